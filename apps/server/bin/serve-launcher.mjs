// `soundmesh serve` runs in a child process started with memory settings that must be in place before node starts:
// at most two malloc arenas (glibc otherwise makes one per thread that allocates: V8's helper threads, the scan's
// workers), with glibc's trim threshold fixed (MALLOC_TRIM_THRESHOLD_, below). Neither can be set from inside a running
// process. V8's young generation is left at its default size (two 16 MiB semi-spaces under load: a 2 MiB cap cost a
// third of the edits a hot playlist takes per second in collections) and made small again once the server is idle
// (src/memory-release.ts). This launcher costs ~9 MiB (its own pages, the node binary's being shared with the child).
// SOUNDMESH_MEMORY_SETTINGS=off runs the server in this process as it is; the child runs with it set to "applied".
// Only node:child_process loads here.
import { spawn } from "node:child_process";

/** Global options that take a value as the next argument (see main.ts; a test compares them). */
export const globalOptionsWithValue = new Set(["-c", "--config", "-d", "--data-dir", "--database-url"]);

/** The command a `soundmesh` argument list runs: its first word that is not an option or an option's value. */
export function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (globalOptionsWithValue.has(arg)) i += 1;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

/** Whether this process should start `serve` in a child with the memory settings. */
export function shouldRelaunch(args, env) {
  return commandOf(args) === "serve" && (env.SOUNDMESH_MEMORY_SETTINGS ?? "auto") === "auto";
}

/**
 * Runs `bin` with `args` in a child with the memory settings and resolves with its exit code. SIGINT, SIGTERM and
 * SIGHUP are passed on (the child has a process group of its own, so a terminal's Ctrl-C reaches it once, from here);
 * if this process dies without passing anything on (kill -9), the child kills itself at once the same way.
 */
export function runServeChild(bin, args) {
  const child = spawn(process.execPath, [...process.execArgv, bin, ...args], {
    env: {
      ...process.env,
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? "2",
      // glibc's default, but fixed: glibc otherwise raises it (to 64 MiB at most) as big blocks are freed, and then
      // keeps the top of its heap after a scan; fixing it also keeps blocks over 128 KiB in mmaps of their own.
      MALLOC_TRIM_THRESHOLD_: process.env.MALLOC_TRIM_THRESHOLD_ ?? "131072",
      SOUNDMESH_MEMORY_SETTINGS: "applied",
    },
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    detached: true,
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward);
  return new Promise((resolve) => {
    child.once("error", (error) => {
      process.stderr.write(`soundmesh: could not start the server process: ${error.message}\n`);
      resolve(1);
    });
    child.once("exit", (code, signal) =>
      resolve(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1)),
    );
  });
}

/** In the child: end with the launcher, as abruptly as it ended, when it is gone. */
export function followLauncher() {
  if (process.env.SOUNDMESH_MEMORY_SETTINGS !== "applied" || !process.channel) return;
  process.once("disconnect", () => process.kill(process.pid, "SIGKILL"));
  process.channel.unref();
}
