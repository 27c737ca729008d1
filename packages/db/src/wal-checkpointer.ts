// SQLite WAL checkpoints off the event loop: the writing connection no longer copies its WAL into the database file
// at the commit that crosses 1,000 pages (a few milliseconds of copying and an fsync, inside a request); a worker
// thread with its own connection does it, PASSIVE (never waiting on, nor blocking, the writer or the readers). The
// worker (an isolate, a thread and a connection: ~5 MiB) ends once the WAL has been all copied for a while, and starts
// again when the WAL is written to.
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
/** The worker ends after this long with every frame of the WAL copied and none added. */
const IDLE_STOP_MS = 10_000;

// CommonJS, evaluated in the worker: better-sqlite3 is required by the path resolved here.
// The WAL's modification time is read before the last checkpoint of an idle spell: a write after it changes it, and
// the checkpointer starts the worker again (a write the last checkpoint saw keeps the worker running).
const workerSource = `
const { statSync } = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const database = new Database(workerData.file);
let checkpoints = 0;
let idleSince = Date.now();
let lastFrames = -1;
const end = (walMtimeMs) => {
  clearInterval(timer);
  database.close();
  parentPort.postMessage({ stopped: true, walMtimeMs });
  parentPort.close();
};
const checkpoint = () => {
  try {
    const walMtimeMs = statSync(workerData.file + "-wal", { throwIfNoEntry: false })?.mtimeMs;
    const [{ log, checkpointed }] = database.pragma("wal_checkpoint(PASSIVE)");
    checkpoints += 1;
    parentPort.postMessage({ checkpoints });
    if (log !== checkpointed || log !== lastFrames) idleSince = Date.now();
    lastFrames = log;
    if (Date.now() - idleSince >= workerData.idleStopMs) end(walMtimeMs);
  } catch (error) {
    idleSince = Date.now();
    parentPort.postMessage({ error: String(error && error.message) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
checkpoint();
parentPort.once("message", () => end(undefined));
`;

export interface WalCheckpointerOptions {
  /** The worker ends after this long with the WAL all copied; IDLE_STOP_MS by default (tests give less). */
  idleStopMs?: number;
}

export interface WalCheckpointer {
  /** How many checkpoints the workers have run (0 until the first started). */
  readonly checkpoints: number;
  /** Whether a worker is running now. */
  readonly running: boolean;
  /** How many times a worker was started. */
  readonly starts: number;
  /** Stops the worker and closes its connection; before the writer closes, so the writer's close checkpoints last. */
  stop(): Promise<void>;
}

/**
 * Checkpoints `file`'s WAL from a worker thread, started once the WAL has grown past START_AT_WAL_BYTES, ended once
 * it has had nothing to copy for `idleStopMs`, started again when the WAL is written to.
 */
export function startWalCheckpointer(
  file: string,
  onError: (message: string) => void = (message) =>
    process.emitWarning(`the SQLite WAL checkpoint failed: ${message}`),
  options: WalCheckpointerOptions = {},
): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  let worker: Worker | undefined;
  let exited: Promise<void> | undefined;
  let stopped = false;
  let checkpoints = 0;
  let starts = 0;
  let lastError: string | undefined;
  /** The WAL's modification time when the last worker ended idle: it starts again once that changes. */
  let idleWalMtimeMs: number | undefined;
  const start = () => {
    if (worker || stopped) return;
    const counted = checkpoints;
    const started = new Worker(workerSource, {
      eval: true,
      workerData: {
        driver,
        file,
        intervalMs: CHECKPOINT_INTERVAL_MS,
        idleStopMs: options.idleStopMs ?? IDLE_STOP_MS,
      },
    });
    worker = started;
    starts += 1;
    exited = new Promise((resolveExit) =>
      started.once("exit", () => {
        if (worker === started) worker = undefined;
        resolveExit();
      }),
    );
    started.on(
      "message",
      (message: { checkpoints?: number; error?: string; stopped?: true; walMtimeMs?: number }) => {
        if (message.checkpoints !== undefined) checkpoints = counted + message.checkpoints;
        if (message.stopped) idleWalMtimeMs = message.walMtimeMs;
        // One warning per kind of failure, not one each 200 ms; the writer's backstop keeps the WAL bounded meanwhile.
        if (message.error !== undefined && message.error !== lastError) onError(message.error);
        lastError = message.error;
      },
    );
    started.on("error", (error) => onError(error.message));
    started.unref();
  };
  const watch = setInterval(() => {
    if (worker) return;
    stat(`${file}-wal`, (error, stats) => {
      if (error || stats.size < START_AT_WAL_BYTES || stats.mtimeMs === idleWalMtimeMs) return;
      start();
    });
  }, 1_000);
  watch.unref();
  return {
    get checkpoints() {
      return checkpoints;
    },
    get running() {
      return worker !== undefined;
    },
    get starts() {
      return starts;
    },
    async stop() {
      stopped = true;
      clearInterval(watch);
      const running = worker;
      if (!running) return;
      running.postMessage("stop");
      await exited;
    },
  };
}
