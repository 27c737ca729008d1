// Configuration precedence and validation: defaults < file < environment < flags; the result is frozen.
import { mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@soundmesh/server";

describe("loadConfig", () => {
  it("layers defaults, file, environment and flags in that order", () => {
    const file = join(mkdtempSync(join(tmpdir(), "cfg-")), "c.json");
    writeFileSync(file, JSON.stringify({ port: 8000, host: "127.0.0.2", library: { folders: ["/music"] } }));
    const config = loadConfig({
      file,
      env: { SOUNDMESH_PORT: "9000", SOUNDMESH_WATCH: "false" },
      overrides: { host: "127.0.0.3" },
    });
    expect(config.port).toBe(9000);
    expect(config.host).toBe("127.0.0.3");
    expect(config.library).toEqual({ folders: ["/music"], watch: false, demo: true });
    expect(config.logLevel).toBe("info");
  });

  it("freezes the result", () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.library.folders)).toBe(true);
  });

  it("lists every bad key with what is allowed", () => {
    let error: unknown;
    try {
      loadConfig({ env: { SOUNDMESH_PORT: "99999", SOUNDMESH_LOG_LEVEL: "loud" } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toMatch(/^port: /m);
    expect(problems).toMatch(/^logLevel: .*fatal/m);
  });

  it("takes transcode profiles from the file and refuses bad names and a profile called original", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const write = (value: unknown) => {
      const file = join(dir, `${Math.random()}.json`);
      writeFileSync(file, JSON.stringify(value));
      return file;
    };
    const custom = loadConfig({
      env: {},
      file: write({
        transcode: { profiles: { opus64: { codec: "opus", bitrateKbps: 64 } }, ahead: ["opus64"] },
      }),
    });
    // File profiles join the defaults (the player relies on opus96 and opus160).
    expect(custom.transcode.profiles).toEqual({
      opus64: { codec: "opus", bitrateKbps: 64 },
      opus96: { codec: "opus", bitrateKbps: 96 },
      opus160: { codec: "opus", bitrateKbps: 160 },
    });
    expect(custom.transcode.ahead).toEqual(["opus64"]);
    expect(() =>
      loadConfig({
        env: {},
        file: write({ transcode: { profiles: { "Hi Fi": { codec: "opus", bitrateKbps: 64 } }, ahead: [] } }),
      }),
    ).toThrow(ConfigError);
    expect(() =>
      loadConfig({
        env: {},
        file: write({ transcode: { profiles: { original: { codec: "opus", bitrateKbps: 64 } }, ahead: [] } }),
      }),
    ).toThrow(/original/);
    expect(() => loadConfig({ env: {}, file: write({ transcode: { ahead: ["opus64"] } }) })).toThrow(
      /transcode\.ahead: ahead may name only the profiles above/,
    );
  });

  it("bounds transcodes and cover decoding: defaults from the machine, overridable, bad values refused", () => {
    const defaults = loadConfig({ env: {} });
    expect(defaults.transcode).toMatchObject({
      maxConcurrent: availableParallelism(),
      maxPerUser: 4,
      maxQueued: 64,
      warm: true,
    });
    expect(loadConfig({ env: { SOUNDMESH_TRANSCODE_WARM: "false" } }).transcode.warm).toBe(false);
    expect(() => loadConfig({ env: { SOUNDMESH_TRANSCODE_WARM: "sometimes" } })).toThrow(/transcode\.warm/);
    expect(defaults.covers).toEqual({ maxPixels: 40_000_000, maxConcurrentDecodes: 2 });
    const set = loadConfig({
      env: { SOUNDMESH_TRANSCODE_MAX_CONCURRENT: "3" },
      overrides: { transcode: { maxPerUser: 2 }, covers: { maxPixels: 1_000_000 } },
    });
    expect(set.transcode).toMatchObject({ maxConcurrent: 3, maxPerUser: 2, maxQueued: 64 });
    expect(set.covers.maxPixels).toBe(1_000_000);
    let error: unknown;
    try {
      loadConfig({
        env: { SOUNDMESH_TRANSCODE_MAX_CONCURRENT: "0" },
        overrides: { transcode: { maxPerUser: 1.5 }, covers: { maxConcurrentDecodes: 0, maxPixels: 10 } },
      });
    } catch (caught) {
      error = caught;
    }
    const problems = (error as ConfigError).problems.join("\n");
    for (const key of [
      "transcode.maxConcurrent",
      "transcode.maxPerUser",
      "covers.maxConcurrentDecodes",
      "covers.maxPixels",
    ])
      expect(problems).toMatch(new RegExp(`^${key.replace(".", "\\.")}: `, "m"));
  });

  it("takes the doors' settings from the environment and refuses what would open or jam them", () => {
    const config = loadConfig({
      env: {
        SOUNDMESH_ALLOWED_ORIGINS: "https://music.example.org, http://10.0.0.5:7700",
        SOUNDMESH_METRICS_TOKEN: "a-long-enough-metrics-token",
        SOUNDMESH_MAX_SOCKETS_PER_USER: "4",
      },
    });
    expect(config.security.allowedOrigins).toEqual(["https://music.example.org", "http://10.0.0.5:7700"]);
    expect(config.security.metricsToken).toBe("a-long-enough-metrics-token");
    expect(config.connections.maxSocketsPerUser).toBe(4);
    const problemsOf = (env: Record<string, string>, overrides: Record<string, unknown> = {}) => {
      try {
        loadConfig({ env, overrides });
      } catch (error) {
        return (error as ConfigError).problems.join("\n");
      }
      return "";
    };
    for (const origin of ["https://music.example.org/", "music.example.org", "ftp://x.org", "null", "*"])
      expect(problemsOf({ SOUNDMESH_ALLOWED_ORIGINS: origin }), origin).toMatch(/security\.allowedOrigins/);
    expect(problemsOf({ SOUNDMESH_METRICS_TOKEN: "short" })).toMatch(/security\.metricsToken/);
    expect(problemsOf({}, { connections: { headersTimeoutMs: 60_000, receiveTimeoutMs: 30_000 } })).toMatch(
      /connections\.headersTimeoutMs/,
    );
    expect(problemsOf({}, { connections: { inFlightBytesPerSocket: 1024 } })).toMatch(
      /connections\.inFlightBytesPerSocket/,
    );
    // The retired name of the HTTP budget is reported, not ignored.
    expect(problemsOf({}, { rateLimits: { perSessionHttp: { ratePerSecond: 1, burst: 1 } } })).toMatch(
      /perSessionHttp/,
    );
  });

  it("takes STUN and TURN servers from the environment and refuses bad URLs and short secrets", () => {
    expect(loadConfig({ env: {} }).ice).toEqual({ stunUrls: [] });
    const config = loadConfig({
      env: {
        SOUNDMESH_STUN_URLS: "stun:198.18.0.1:3478",
        SOUNDMESH_TURN_URLS: "turn:198.18.0.1:3478?transport=udp,turns:198.18.0.1:5349",
        SOUNDMESH_TURN_SECRET: "0123456789abcdef0123",
      },
    });
    expect(config.ice).toEqual({
      stunUrls: ["stun:198.18.0.1:3478"],
      turn: {
        urls: ["turn:198.18.0.1:3478?transport=udp", "turns:198.18.0.1:5349"],
        secret: "0123456789abcdef0123",
        ttlSeconds: 3600,
      },
    });
    let error: unknown;
    try {
      loadConfig({
        env: {
          SOUNDMESH_STUN_URLS: "http://stun.example.org",
          SOUNDMESH_TURN_URLS: "turn:198.18.0.1",
          SOUNDMESH_TURN_SECRET: "short",
          SOUNDMESH_TURN_TTL_SECONDS: "5",
        },
      });
    } catch (caught) {
      error = caught;
    }
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toMatch(/^ice\.stunUrls\.0: .*stun: URL/m);
    expect(problems).toMatch(/^ice\.turn\.secret: .*16/m);
    expect(problems).toMatch(/^ice\.turn\.ttlSeconds: /m);
  });

  it("reports an unreadable config file", () => {
    expect(() => loadConfig({ file: "/nonexistent/soundmesh.json", env: {} })).toThrow(ConfigError);
  });
});
