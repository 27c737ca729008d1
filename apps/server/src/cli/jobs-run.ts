// What `soundmesh jobs` does (loaded only when it runs): the job runner on the data dir's database and files. Closing
// a bucket runs only in the server (it holds the open log); here close-bucket only checks that an hour is closed. The
// radio index reads the catalog's tables through a catalog service started only when that job builds.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SingleBar, Presets } from "cli-progress";
import { AppError, type JobRun } from "@soundmesh/protocol";
import {
  closeBucketJob,
  createJobRunner,
  dailyAggregatesJob,
  migrateEventsStore,
  type JobRunner,
} from "@soundmesh/service-events";
import { recommendManifest } from "@soundmesh/service-recommend";
import { startCatalogService } from "../catalog-wiring";
import { createLogger } from "../logger";
import { radioBuildOptions, radioIndexJob } from "../recommend-wiring";
import { createBusFor, openDb } from "../wiring";
import { configFrom, type GlobalOptions } from "./config-from";

export function parseParams(pairs: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([a-z][a-zA-Z0-9]*)=(.*)$/.exec(pair);
    if (!match) throw new AppError("VALIDATION_FAILED", `--param takes name=value, not ${pair}`);
    params[match[1]!] = match[2]!;
  }
  return params;
}

async function withRunner<T>(
  options: GlobalOptions,
  onChange: ((run: JobRun) => void) | undefined,
  work: (runner: JobRunner) => Promise<T>,
): Promise<T> {
  const config = configFrom(options);
  mkdirSync(config.dataDir, { recursive: true });
  const logger = createLogger("warn");
  const db = openDb(config, logger);
  const bus = createBusFor(config, logger);
  let catalog: Promise<{ stop(): Promise<void> }> | undefined;
  try {
    await migrateEventsStore(db);
    const runner = createJobRunner({ db, logger, runner: "cli", ...(onChange ? { onChange } : {}) });
    await runner.recoverInterrupted();
    const dir = join(config.dataDir, "events");
    const clock = { now: () => Date.now() };
    runner.register(closeBucketJob({ dir, clock, allowedLatenessMs: config.events.allowedLatenessMs }));
    runner.register(dailyAggregatesJob({ dir }));
    const build = radioBuildOptions(config, bus.connect(recommendManifest));
    runner.register(
      radioIndexJob(
        {
          ...build,
          loadTracks: async (signal) => {
            // The catalog reads its tables only: no scan, no watching, whatever the library folders are.
            catalog ??= startCatalogService(config, logger, bus, db, [], false);
            await catalog;
            return build.loadTracks(signal);
          },
        },
        // A running server sees the new current.json (it watches the folder) and swaps the index in.
        () => Promise.resolve(),
      ),
    );
    return await work(runner);
  } finally {
    await (await catalog?.catch(() => undefined))?.stop();
    await bus.close();
    await db.close();
  }
}

const time = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z"));

function printRuns(runs: JobRun[]): void {
  console.log("started               state    progress  took     job (params)");
  for (const run of runs) {
    const took =
      run.startedAt !== null && run.finishedAt !== null
        ? `${((run.finishedAt - run.startedAt) / 1000).toFixed(1)} s`
        : "-";
    const params = Object.entries(run.params)
      .map(([name, value]) => `${name}=${value}`)
      .join(" ");
    console.log(
      `${time(run.startedAt).padEnd(21)} ${run.state.padEnd(8)} ${`${Math.round(run.progress * 100)}%`.padStart(8)}  ` +
        `${took.padEnd(8)} ${run.job}${params ? ` (${params})` : ""}${run.error ? ` — ${run.error}` : ""}`,
    );
  }
}

/** A live bar on a terminal; otherwise a line per tenth of the way (logs, CI, tests). */
function progressPrinter(interactive: boolean): { update(run: JobRun): void; stop(): void } {
  const bar = interactive
    ? new SingleBar(
        { format: "{job} [{bar}] {percentage}% | {note}", hideCursor: true },
        Presets.shades_classic,
      )
    : undefined;
  let current: string | undefined;
  let lastTenth = -1;
  return {
    update(run) {
      if (run.id !== current) {
        current = run.id;
        lastTenth = -1;
        bar?.stop();
        bar?.start(100, 0, { job: run.job, note: "" });
      }
      if (bar) bar.update(Math.round(run.progress * 100), { job: run.job, note: run.note ?? "" });
      const tenth = Math.floor(run.progress * 10);
      if (!bar && (tenth > lastTenth || run.state !== "running")) {
        lastTenth = tenth;
        console.error(
          `${run.job} ${JSON.stringify(run.params)}: ${run.state} ${Math.round(run.progress * 100)}%`,
        );
      }
    },
    stop: () => bar?.stop(),
  };
}

export async function listJobs(options: GlobalOptions, limit: number): Promise<void> {
  await withRunner(options, undefined, async (runner) => {
    console.log("jobs:");
    for (const job of runner.jobs())
      console.log(`  ${job.name}${job.params.map((p) => ` --param ${p}=…`).join("")}  ${job.description}`);
    console.log("");
    printRuns(await runner.runs(limit));
  });
}

export async function runJob(options: GlobalOptions, name: string, pairs: string[]): Promise<void> {
  const params = parseParams(pairs);
  const printer = progressPrinter(process.stderr.isTTY === true);
  const run = await withRunner(
    options,
    (r) => printer.update(r),
    (runner) => runner.run(name, params),
  ).finally(() => printer.stop());
  if (!run) {
    console.log(`${name}: its output exists already; nothing to do`);
    return;
  }
  printRuns([run]);
  if (run.state === "failed") throw new AppError("INTERNAL", `${name} failed: ${run.error ?? "?"}`);
}
