// SQLite WAL checkpoints off the event loop: the writing connection no longer copies its WAL into the database file
// at the commit that crosses 1,000 pages (a few milliseconds of copying and an fsync, inside a request); a worker
// thread with its own connection does it, PASSIVE (never waiting on, nor blocking, the writer or the readers).
import { createRequire } from "node:module";
import { stat } from "node:fs";
import { Worker } from "node:worker_threads";

/**
 * The writer's own checkpoint is kept as a backstop, far above the worker's pace: should the worker fall behind or
 * fail, the WAL still stops growing at about this many pages (4 KiB each: 40 MiB).
 */
export const WRITER_AUTOCHECKPOINT_PAGES = 10_000;
/** A WAL file reset after a full checkpoint is cut back to this size, so a burst's WAL does not stay on disk. */
export const JOURNAL_SIZE_LIMIT_BYTES = 32 * 1024 * 1024;
/** How often the worker checkpoints; a checkpoint of an empty or fully copied WAL costs next to nothing. */
const CHECKPOINT_INTERVAL_MS = 200;
/** The worker starts once the WAL file is this big (checked once a second), so a quiet database costs no thread. */
const START_AT_WAL_BYTES = 256 * 1024;

// CommonJS, evaluated in the worker: better-sqlite3 is required by the path resolved here.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const database = new Database(workerData.file);
let checkpoints = 0;
const checkpoint = () => {
  try {
    database.pragma("wal_checkpoint(PASSIVE)");
    checkpoints += 1;
    parentPort.postMessage({ checkpoints });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
checkpoint();
parentPort.once("message", () => {
  clearInterval(timer);
  database.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  /** How many checkpoints the worker has run (0 until it started). */
  readonly checkpoints: number;
  /** Stops the worker and closes its connection; before the writer closes, so the writer's close checkpoints last. */
  stop(): Promise<void>;
}

/** Checkpoints `file`'s WAL from a worker thread, started once the WAL has grown past START_AT_WAL_BYTES. */
export function startWalCheckpointer(
  file: string,
  onError: (message: string) => void = (message) =>
    process.emitWarning(`the SQLite WAL checkpoint failed: ${message}`),
): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  let worker: Worker | undefined;
  let exited: Promise<void> | undefined;
  let stopped = false;
  let checkpoints = 0;
  let lastError: string | undefined;
  const start = () => {
    if (worker || stopped) return;
    const started = new Worker(workerSource, {
      eval: true,
      workerData: { driver, file, intervalMs: CHECKPOINT_INTERVAL_MS },
    });
    worker = started;
    exited = new Promise((resolveExit) => started.once("exit", () => resolveExit()));
    started.on("message", (message: { checkpoints?: number; error?: string }) => {
      if (message.checkpoints !== undefined) checkpoints = message.checkpoints;
      // One warning per kind of failure, not one each 200 ms; the writer's backstop keeps the WAL bounded meanwhile.
      if (message.error !== undefined && message.error !== lastError) onError(message.error);
      lastError = message.error;
    });
    started.on("error", (error) => onError(error.message));
    started.unref();
  };
  const watch = setInterval(() => {
    if (worker) return clearInterval(watch);
    stat(`${file}-wal`, (error, stats) => {
      if (!error && stats.size >= START_AT_WAL_BYTES) start();
    });
  }, 1_000);
  watch.unref();
  return {
    get checkpoints() {
      return checkpoints;
    },
    async stop() {
      stopped = true;
      clearInterval(watch);
      if (!worker) return;
      worker.postMessage("stop");
      await exited;
    },
  };
}
