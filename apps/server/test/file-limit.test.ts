// The open-file limit at start-up: `serve` raises its soft limit to the hard one and says how to raise a low hard one.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";
import { raiseOpenFileLimit, readOpenFileLimit } from "../src/cli/file-limit";

const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-file-limit-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const isLinux = process.platform === "linux";
/** A hard limit every machine here allows (the test's own, if lower). */
const ownHard = isLinux ? readOpenFileLimit().hard : "0";
const hard = ownHard === "unlimited" ? 4096 : Math.min(4096, Number(ownHard));

/** Starts `serve` under prlimit with these open-file limits; resolves once it listens. */
async function serveWithLimits(soft: number, hardLimit: number) {
  const child = spawn(
    "prlimit",
    [
      `--nofile=${soft}:${hardLimit}`,
      "--",
      process.execPath,
      cliPath,
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
    ],
    {
      env: {
        ...process.env,
        ...builtCliEnv,
        SOUNDMESH_DEMO_LIBRARY: "false",
        SOUNDMESH_WATCH: "false",
        SOUNDMESH_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await expect.poll(() => output, { timeout: 30_000 }).toMatch(/listening on http/);
  return {
    pid: child.pid!,
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

describe.skipIf(!isLinux)("open file limit", () => {
  it("raises another process's soft limit to its hard limit with prlimit, without a shell", async () => {
    const sleeper = spawn("prlimit", [`--nofile=64:${hard}`, "--", "sleep", "30"], { stdio: "ignore" });
    const exited = new Promise<void>((resolve) => sleeper.once("exit", () => resolve()));
    try {
      await expect.poll(() => readOpenFileLimit(sleeper.pid).soft).toBe("64");
      const after = raiseOpenFileLimit({ logger: pino({ level: "silent" }), pid: sleeper.pid! });
      expect(after).toEqual({ soft: String(hard), hard: String(hard) });
      expect(readOpenFileLimit(sleeper.pid)).toEqual({ soft: String(hard), hard: String(hard) });
    } finally {
      sleeper.kill();
      await exited;
    }
  });

  it("does nothing where there is no /proc", () => {
    expect(raiseOpenFileLimit({ logger: pino({ level: "silent" }), platform: "darwin" })).toBeUndefined();
  });

  it("starts serve with its soft limit at the hard limit, logged", async () => {
    const server = await serveWithLimits(256, hard);
    try {
      expect(readOpenFileLimit(server.pid)).toEqual({ soft: String(hard), hard: String(hard) });
      expect(server.output()).toMatch(
        new RegExp(`"soft":"${hard}","hard":"${hard}".*"msg":"open file limit"`),
      );
    } finally {
      await server.stop();
    }
  });

  it("warns at start-up, with the fix, when the hard limit itself is low", async () => {
    const server = await serveWithLimits(1024, 1024);
    try {
      expect(readOpenFileLimit(server.pid)).toEqual({ soft: "1024", hard: "1024" });
      expect(server.output()).toMatch(/only 1024 open files allowed/);
      expect(server.output()).toMatch(/LimitNOFILE=65536/);
      expect(server.output()).toMatch(/ulimit -Hn 65536/);
    } finally {
      await server.stop();
    }
  });
});
