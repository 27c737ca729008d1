// The soundmesh command line: user administration on the database, configuration errors, help.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";
import { catalogContract, storageContract, userContract } from "@soundmesh/protocol";

const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-cli-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function run(args: string[], input = "", env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, ...builtCliEnv, SOUNDMESH_DATA_DIR: dataDir, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe("soundmesh user", () => {
  it("adds the first account as admin, then plain users, and lists them", async () => {
    expect(await run(["user", "add", "alice", "--password-stdin"], "alice password\n")).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("created admin alice"),
    });
    expect(await run(["user", "add", "bob", "--password-stdin"], "bob password\n")).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("created user bob"),
    });
    const list = await run(["user", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/alice\s+admin\s+active/);
    expect(list.stdout).toMatch(/bob\s+user\s+active/);
  });

  it("refuses a duplicate name and a short password with typed errors", async () => {
    const duplicate = await run(["user", "add", "bob", "--password-stdin"], "another password\n");
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain("ALREADY_EXISTS");
    const short = await run(["user", "add", "carol", "--password-stdin"], "short\n");
    expect(short.code).toBe(1);
    // One line naming the rule, not the internal call that enforced it.
    expect(short.stderr.trim()).toBe("error VALIDATION_FAILED: password: at least 8 characters");
    const badName = await run(["user", "add", "carol smith", "--password-stdin"], "long enough password\n");
    expect(badName.stderr.trim()).toBe("error VALIDATION_FAILED: name: letters, digits and . _ @ - only");
  });

  it("changes a password and disables and re-enables an account", async () => {
    expect((await run(["user", "passwd", "bob", "--password-stdin"], "a brand new password\n")).code).toBe(0);
    expect((await run(["user", "disable", "bob"])).stdout).toContain("bob is disabled");
    expect((await run(["user", "list"])).stdout).toMatch(/bob\s+user\s+disabled/);
    expect((await run(["user", "disable", "bob", "--enable"])).stdout).toContain("bob is enabled");
    expect((await run(["user", "disable", "nobody"])).stderr).toContain("NOT_FOUND");
  });

  it("gives and takes the admin role, refusing a bad role, an unknown name, and demoting the last admin", async () => {
    expect((await run(["user", "role", "bob", "admin"])).stdout).toContain("bob is an admin");
    expect((await run(["user", "role", "bob", "user"])).stdout).toContain("bob is a plain user");
    const badRole = await run(["user", "role", "bob", "root"]);
    expect(badRole).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("VALIDATION_FAILED") as string,
    });
    const unknown = await run(["user", "role", "nobody", "admin"]);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining("NOT_FOUND") as string });
    const last = await run(["user", "role", "alice", "user"]);
    expect(last).toMatchObject({ code: 1, stderr: expect.stringContaining("CONFLICT") as string });
  }, 90_000);
});

describe("configuration", () => {
  it("stops with every bad key listed", async () => {
    const file = join(dataDir, "bad.json");
    writeFileSync(file, JSON.stringify({ port: "seventy", logLevel: "loud", surprise: true }));
    const result = await run(["--config", file, "serve"], "", { SOUNDMESH_DATABASE_URL: "mysql://x" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("port");
    expect(result.stderr).toContain("logLevel");
    expect(result.stderr).toContain("databaseUrl");
    expect(result.stderr).toContain("surprise");
  });

  it("says in one line, without a stack trace, that the port is taken", async () => {
    const { createServer } = await import("node:net");
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const result = await run(["serve", "--port", String(port)], "", {
        SOUNDMESH_DEMO_LIBRARY: "false",
        SOUNDMESH_WATCH: "false",
        SOUNDMESH_LOG_LEVEL: "silent",
      });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `error: 127.0.0.1:${port} is already in use (another soundmesh running?); choose another port with --port or SOUNDMESH_PORT`,
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 60_000);

  it("prints help for every command and subcommand, from the build", async () => {
    // Every command of the program, from the command table itself, so a new command is covered as it is added.
    const { buildProgram } = await import("../src/cli/main");
    const commandPaths: string[][] = [[]];
    const visit = (command: Command, path: string[]) => {
      for (const sub of command.commands) {
        commandPaths.push([...path, sub.name()]);
        visit(sub, [...path, sub.name()]);
      }
    };
    visit(buildProgram(), []);
    expect(commandPaths.length).toBeGreaterThan(15);
    for (const path of commandPaths) {
      const result = await run([...path, "--help"]);
      expect({ path, code: result.code, stderr: result.stderr }).toEqual({ path, code: 0, stderr: "" });
      expect(result.stdout).toContain(`Usage: soundmesh ${path.join(" ")}`.trimEnd());
    }
  }, 120_000);
});

describe("soundmesh scan", () => {
  it("scans a library with progress and a summary, then re-reads nothing unchanged", async () => {
    const { generateFixtureLibrary } = await import("@soundmesh/test-kit");
    const fixture = await generateFixtureLibrary();
    const first = await run(["scan", "--library", fixture.root]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("scan: reading");
    expect(first.stdout).toContain(`scan finished: ${fixture.audioFiles} added, 0 updated, 0 removed`);
    expect(first.stdout).toContain(`${fixture.badFiles.length} could not be read`);
    const again = await run(["scan", "--library", fixture.root]);
    expect(again.stdout).toContain("0 added, 0 updated, 0 removed");
  }, 60_000);
});

describe("soundmesh transcode", () => {
  it("makes the whole library ready on a running server, following its progress, for administrators only", async () => {
    const { WsClient, generateFixtureLibrary, setupAdmin, waitUntil } = await import("@soundmesh/test-kit");
    const { startServer } = await import("@soundmesh/test-kit/server");
    const fixture = await generateFixtureLibrary();
    const server = await startServer({ libraryFolders: [fixture.root] });
    try {
      const ws = await WsClient.connect(
        server.url,
        await setupAdmin(server.url, "admin", "correct horse battery"),
      );
      await waitUntil(
        () => ws.call(catalogContract, "scanStatus"),
        (status) => !status.running && status.added === fixture.audioFiles,
        30_000,
      );
      // The first scan queues the newest tracks itself; a batch asked for meanwhile would join that one.
      await waitUntil(
        () => ws.call(storageContract, "transcodeStatus"),
        (status) => !status.working,
        60_000,
      );
      const asAdmin = { SOUNDMESH_PASSWORD: "correct horse battery" };
      const args = ["transcode", "--server", server.url, "--user", "admin", "--all", "--profile", "opus160"];
      const result = await run(args, "", asAdmin);
      expect(result.stderr).toMatch(/transcode: \d+\/\d+/);
      expect(result.stdout).toContain(
        `transcode finished: ${fixture.audioFiles} of ${fixture.audioFiles} ready`,
      );
      expect(result.code).toBe(0);
      // A plain user is refused with the server's code, and an unknown profile is named.
      await ws.call(userContract, "createUser", {
        name: "listener",
        password: "listener password",
        role: "user",
      });
      await ws.close();
      const refused = await run(["transcode", "--server", server.url, "--user", "listener"], "", {
        SOUNDMESH_PASSWORD: "listener password",
      });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("FORBIDDEN");
      const unknown = await run([...args.slice(0, -1), "mp3320"], "", asAdmin);
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toContain("No profile mp3320");
    } finally {
      await server.close();
    }
  }, 90_000);
});

describe("soundmesh topology", () => {
  it("prints the expected graph as text, DOT and JSON, and refuses an unknown format", async () => {
    const text = await run(["topology", "expected"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^expected topology [0-9a-f]{16}\n/);
    expect(text.stdout).toContain("  access-point->catalog\n");
    expect(text.stdout).toContain("  catalog->database:catalog\n");
    const dot = await run(["topology", "expected", "--format", "dot"]);
    expect(dot.stdout).toContain('"storage" -> "ffmpeg" [color=gray];');
    const json = await run(["topology", "expected", "-f", "json"]);
    const graph = JSON.parse(json.stdout) as { version: string; services: Array<{ service: string }> };
    expect(text.stdout).toContain(graph.version);
    expect(graph.services.map((s) => s.service)).toContain("user");
    const bad = await run(["topology", "expected", "-f", "png"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("Allowed choices are text, dot, json");
  });
});
