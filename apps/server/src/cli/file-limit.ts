// Raises the process's soft limit on open files to its hard limit when `serve` starts (Linux), and says how to raise
// the hard limit when it stays low: every listener holds a WebSocket and a few HTTP connections, each a descriptor.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";

/** Below this many open files a server runs out at roughly a thousand listeners (about 8 descriptors each). */
export const LOW_OPEN_FILE_LIMIT = 10_000;

export interface OpenFileLimit {
  /** As /proc writes them: a number, or "unlimited". */
  soft: string;
  hard: string;
}

const asNumber = (value: string) => (value === "unlimited" ? Infinity : Number(value));

/** The open-file limits of a process, from /proc/<pid>/limits. */
export function readOpenFileLimit(pid: number = process.pid): OpenFileLimit {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    readFileSync(`/proc/${pid}/limits`, "utf8"),
  );
  if (!match) throw new Error(`no "Max open files" line in /proc/${pid}/limits`);
  return { soft: match[1]!, hard: match[2]! };
}

export interface RaiseOptions {
  logger: Logger;
  pid?: number;
  platform?: NodeJS.Platform;
}

/**
 * Sets the soft limit to the hard one with util-linux's `prlimit` (Node has no setrlimit; a process may raise its
 * own soft limit up to the hard one), run directly, without a shell. Returns the limits in force afterwards, or
 * undefined where there is no /proc (not Linux).
 */
export function raiseOpenFileLimit({
  logger,
  pid = process.pid,
  platform = process.platform,
}: RaiseOptions): OpenFileLimit | undefined {
  if (platform !== "linux") return undefined;
  const before = readOpenFileLimit(pid);
  if (asNumber(before.soft) < asNumber(before.hard)) {
    try {
      execFileSync("prlimit", ["--pid", String(pid), `--nofile=${before.hard}:${before.hard}`], {
        stdio: "ignore",
        timeout: 5_000,
      });
    } catch (error) {
      logger.warn({ err: error }, "could not raise the open file limit with prlimit (util-linux)");
    }
  }
  const after = readOpenFileLimit(pid);
  logger.info({ soft: after.soft, hard: after.hard, softBefore: before.soft }, "open file limit");
  if (asNumber(after.soft) < LOW_OPEN_FILE_LIMIT) {
    logger.warn(
      { soft: after.soft, hard: after.hard },
      `only ${after.soft} open files allowed: about ${Math.floor(asNumber(after.soft) / 8)} listeners at once ` +
        "(a WebSocket and a few HTTP connections each). Raise the hard limit: " +
        "LimitNOFILE=65536 in the systemd unit, `ulimit -Hn 65536 && ulimit -n 65536` (as root) in the shell " +
        "that starts soundmesh, or `--ulimit nofile=65536:65536` for Docker",
    );
  }
  return after;
}
