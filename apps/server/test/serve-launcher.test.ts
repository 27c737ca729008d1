// `soundmesh serve` runs in a child started with the memory settings (bin/serve-launcher.mjs): which commands relaunch,
// what the child gets, and that the child ends with its launcher, gracefully on SIGTERM and at once on kill -9.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";
import { commandOf, shouldRelaunch } from "../bin/serve-launcher.mjs";

const workDir = mkdtempSync(join(tmpdir(), "soundmesh-serve-launcher-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe("which runs relaunch", () => {
  it("finds the command past global options and their values", () => {
    expect(commandOf(["serve", "--port", "0"])).toBe("serve");
    expect(commandOf(["-d", "serve", "user", "list"])).toBe("user");
    expect(commandOf(["--data-dir", "x", "-c", "c.json", "serve"])).toBe("serve");
    expect(commandOf(["--database-url=postgres://x", "serve"])).toBe("serve");
    expect(commandOf(["--help"])).toBeUndefined();
  });

  it("relaunches serve only, unless told not to or already relaunched", () => {
    expect(shouldRelaunch(["serve"], {})).toBe(true);
    expect(shouldRelaunch(["-d", "/data", "serve", "--port", "0"], {})).toBe(true);
    expect(shouldRelaunch(["user", "list"], {})).toBe(false);
    expect(shouldRelaunch(["scan"], {})).toBe(false);
    expect(shouldRelaunch(["serve"], { SOUNDMESH_MEMORY_SETTINGS: "off" })).toBe(false);
    expect(shouldRelaunch(["serve"], { SOUNDMESH_MEMORY_SETTINGS: "applied" })).toBe(false);
  });
});

interface Launched {
  launcher: ReturnType<typeof spawn>;
  childPid: number;
  exited: Promise<number | string>;
  output: () => string;
}

/** The pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number),
  );
}

const isGone = (pid: number) =>
  !existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

/** Resolves once `check` holds, trying every 20 ms (up to 30 s). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`never happened: ${what}`);
}

async function launch(env: Record<string, string> = {}): Promise<Launched> {
  const launcher = spawn(
    process.execPath,
    [cliPath, "serve", "--port", "0", "--data-dir", join(workDir, "data")],
    {
      env: {
        ...process.env,
        ...builtCliEnv,
        SOUNDMESH_DEMO_LIBRARY: "false",
        SOUNDMESH_WATCH: "false",
        SOUNDMESH_LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  launcher.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  launcher.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    launcher.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  await until(() => output.includes("listening on"), `the server listening:\n${output}`);
  const children = childrenOf(launcher.pid!);
  return { launcher, childPid: children[0] ?? -1, exited, output: () => output };
}

describe("soundmesh serve behind its launcher", () => {
  it("runs the server in a child with the memory settings, and stops it on SIGTERM", async () => {
    const run = await launch();
    expect(run.childPid).toBeGreaterThan(0);
    const argv = readFileSync(`/proc/${run.childPid}/cmdline`, "utf8").split("\0");
    // V8's young generation keeps its default size: the idle release makes it small again.
    expect(argv.some((arg) => arg.includes("semi-space"))).toBe(false);
    const environment = readFileSync(`/proc/${run.childPid}/environ`, "utf8").split("\0");
    expect(environment).toEqual(
      expect.arrayContaining([
        "MALLOC_ARENA_MAX=2",
        "MALLOC_TRIM_THRESHOLD_=131072",
        "SOUNDMESH_MEMORY_SETTINGS=applied",
      ]),
    );
    run.launcher.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    await until(() => isGone(run.childPid), "the server gone after SIGTERM");
    expect(run.output()).not.toContain("shutdown failed");
  }, 60_000);

  it("ends the server at once when the launcher is killed with SIGKILL", async () => {
    const run = await launch();
    run.launcher.kill("SIGKILL");
    expect(await run.exited).toBe("SIGKILL");
    await until(() => isGone(run.childPid), "the server gone after its launcher's kill -9");
  }, 60_000);

  it("runs the server in the one process with SOUNDMESH_MEMORY_SETTINGS=off", async () => {
    const run = await launch({ SOUNDMESH_MEMORY_SETTINGS: "off" });
    // No second node process; the server's own children (storage's waiting ffmpeg, two per profile) do not count.
    const isFfmpeg = (pid: number) => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "ffmpeg";
    expect(childrenOf(run.launcher.pid!).filter((pid) => !isGone(pid) && !isFfmpeg(pid))).toEqual([]);
    run.launcher.kill("SIGTERM");
    // serve prints "listening" just before it installs its signal handlers, so an early SIGTERM may end it by default.
    expect([0, "SIGTERM"]).toContain(await run.exited);
  }, 60_000);
});
