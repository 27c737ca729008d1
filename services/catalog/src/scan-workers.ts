// Tag reading for a scan, in worker threads when there is much to read: each worker reads a file's ends and parses its
// tags (music-metadata is all CPU once the bytes are in memory), so a first scan uses every core while the main thread
// walks, groups albums and writes. A few changed files are read in this thread: starting workers costs more.
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { Worker, isMainThread } from "node:worker_threads";
import { readFileEnds, readFileEndsSync } from "./file-ends";
import { AUDIO_EXTENSIONS, readFileTags, type FileTags } from "./tags";

export interface ReadJob {
  root: string;
  path: string;
  sizeBytes: number;
}

export type ReadOutcome = { tags: FileTags; fingerprint: string } | { error: string };

/** Below this many files to read, workers are not started. */
export const WORKER_THRESHOLD_FILES = 256;
/** Files sent to a worker at once: few enough to spread the work, enough that messages cost little. */
const BATCH_FILES = 16;
/** Files read at once in one thread, so its reads overlap its parsing. */
export const CONCURRENCY = 4;

/** One file's tags and fingerprint, or why it cannot be read; the embedded picture only when `withPicture`. */
export async function readJob(job: ReadJob, withPicture: boolean): Promise<ReadOutcome> {
  try {
    if (job.sizeBytes === 0) throw new Error("empty file (0 bytes)");
    if (!AUDIO_EXTENSIONS.has(extname(job.path).toLowerCase())) throw new Error("not an audio file");
    // In a worker, a blocking read stops no one else and costs less; in the scan's own thread, it would.
    const ends = isMainThread
      ? await readFileEnds(job.path, job.sizeBytes)
      : readFileEndsSync(job.path, job.sizeBytes);
    const tags = await readFileTags(job.root, job.path, ends);
    if (!withPicture) delete tags.picture;
    return { tags, fingerprint: ends.fingerprint };
  } catch (error) {
    return { error: String((error as Error)?.message ?? error).slice(0, 500) };
  }
}

export async function mapLimited<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** How many workers a scan of `files` changed files starts when not told: none for a few, else one per core (≤ 4). */
export function defaultReaders(files: number): number {
  return files < WORKER_THRESHOLD_FILES ? 0 : Math.min(4, availableParallelism());
}

/** A worker's script: a file, or code to evaluate. */
export type WorkerScript = { file: URL } | { code: string };

/**
 * The worker's script: the build's scan-worker.js, or, when this module runs from its TypeScript sources (tests, tsx),
 * code that registers tsx in the worker before importing scan-worker.ts (Node 20 does not apply `--import` hooks to
 * a worker's own entry file).
 */
function workerScript(): WorkerScript {
  if (!import.meta.url.endsWith(".ts")) return { file: new URL("./scan-worker.js", import.meta.url) };
  const source = JSON.stringify(new URL("./scan-worker.ts", import.meta.url).href);
  return { code: `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${source}); });` };
}

export interface WorkerBatch {
  jobs: ReadJob[];
  withPicture: boolean;
}

/**
 * Reads every job, in `readers` worker threads (or in this thread when 0), and calls `onRead` as each is done. A
 * worker that fails or exits hands its unfinished files back, and they are read in this thread: a crash never loses
 * a file or stops the scan. Says how many files workers read.
 */
export async function readAll(
  jobs: ReadJob[],
  options: {
    readers: number;
    withPicture: boolean;
    onRead: (index: number, outcome: ReadOutcome) => void;
    /** The worker's script, for tests: by default scan-worker's. */
    script?: WorkerScript;
  },
): Promise<{ readInWorkers: number }> {
  const { readers, withPicture, onRead } = options;
  let readInWorkers = 0;
  const batches: number[][] = [];
  for (let start = 0; start < jobs.length; start += BATCH_FILES)
    batches.push(Array.from({ length: Math.min(BATCH_FILES, jobs.length - start) }, (_, i) => start + i));
  const inThisThread: number[] = [];
  const runWorker = () =>
    new Promise<void>((resolve) => {
      const script = options.script ?? workerScript();
      let worker: Worker;
      try {
        worker = "code" in script ? new Worker(script.code, { eval: true }) : new Worker(script.file);
      } catch {
        inThisThread.push(...batches.splice(0).flat());
        resolve();
        return;
      }
      let current: number[] | undefined;
      const sendNext = () => {
        current = batches.shift();
        if (!current) {
          void worker.terminate().then(() => resolve());
          return;
        }
        worker.postMessage({ jobs: current.map((index) => jobs[index]!), withPicture } satisfies WorkerBatch);
      };
      worker.on("message", (outcomes: ReadOutcome[]) => {
        current?.forEach((index, i) => onRead(index, outcomes[i]!));
        readInWorkers += current?.length ?? 0;
        sendNext();
      });
      const fail = () => {
        if (current) inThisThread.push(...current);
        current = undefined;
        worker.removeAllListeners();
        resolve();
      };
      worker.once("error", fail);
      worker.once("exit", fail);
      sendNext();
    });
  await Promise.all(Array.from({ length: Math.min(readers, batches.length) }, runWorker));
  // With no workers, or after all of them failed: whatever is left, here.
  inThisThread.push(...batches.splice(0).flat());
  await mapLimited(inThisThread, CONCURRENCY, async (index) =>
    onRead(index, await readJob(jobs[index]!, withPicture)),
  );
  return { readInWorkers };
}
