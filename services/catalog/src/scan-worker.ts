// A scan's tag-reading worker thread (see scan-workers.ts): reads each batch of files it is sent and answers with
// their tags or why they cannot be read, in the order sent.
import { parentPort } from "node:worker_threads";
import { CONCURRENCY, mapLimited, readJob, type WorkerBatch } from "./scan-workers";

parentPort?.on("message", (batch: WorkerBatch) => {
  void mapLimited(batch.jobs, CONCURRENCY, (job) => readJob(job, batch.withPicture)).then((outcomes) =>
    parentPort!.postMessage(outcomes),
  );
});
