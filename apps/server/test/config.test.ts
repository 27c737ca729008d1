// Configuration precedence and validation: defaults < file < environment < flags; the result is frozen.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

  it("reports an unreadable config file", () => {
    expect(() => loadConfig({ file: "/nonexistent/soundmesh.json", env: {} })).toThrow(ConfigError);
  });
});
