// Wires the recommend service: the radio index under <data dir>/recommend, built from the event buckets under
// <data dir>/events and the catalog's tracks by the job runner's rebuild-recommendation-index job, which runs on the
// runner's schedule (the last closed day), on `soundmesh jobs run`, and swaps in when done.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import {
  dayOf,
  fileOutput,
  holdIfAsked,
  lastClosedDay,
  recommendationIndexJob,
  type Job,
  type JobRunner,
} from "@soundmesh/service-events";
import {
  buildRadioIndex,
  catalogTracks,
  createRecommendService,
  dayBuildPath,
  recommendManifest,
  recordDayBuild,
  type BuildProgress,
  type BuildRadioOptions,
  type RecommendService,
} from "@soundmesh/service-recommend";
import type { Config } from "./config";

const DAY_MS = 86_400_000;

/** The build's folders and tracks, as the service and `soundmesh radio rebuild` both use them. */
export function radioBuildOptions(config: Config, bus: ReturnType<Bus["connect"]>): BuildRadioOptions {
  return {
    eventsDir: join(config.dataDir, "events"),
    outDir: join(config.dataDir, "recommend"),
    loadTracks: (signal) => catalogTracks(bus, signal),
  };
}

/** Where each phase of a build starts on the job's 0–1 progress (training is most of the time). */
const PHASE_SPAN: Record<BuildProgress["phase"], [number, number]> = {
  reading: [0, 0.1],
  training: [0.1, 0.7],
  indexing: [0.7, 0.95],
  writing: [0.95, 1],
  done: [1, 1],
};

/**
 * rebuild-recommendation-index (day): the index from the closed buckets up to the end of that day and the catalog's
 * tracks; its output is `built-<day>.json`, written after the index files. The same input gives the same bytes, so a
 * run killed halfway and run again leaves the same index file.
 */
export function radioIndexJob(build: BuildRadioOptions, onBuilt: () => Promise<void>): Job {
  return recommendationIndexJob({
    output: (params) => (dayOf(params.day), fileOutput(dayBuildPath(build.outDir, params.day!))),
    async build(ctx) {
      const day = ctx.params.day!;
      const untilMs = dayOf(day) + DAY_MS;
      const result = await buildRadioIndex(
        { ...build, untilMs },
        async (progress) => {
          const [from, to] = PHASE_SPAN[progress.phase];
          ctx.progress(from + ((to - from) * progress.done) / Math.max(1, progress.total), progress.phase);
          // For the kill test: the index file is in place, its track list and the day's record are not.
          if (progress.phase === "writing" && progress.done === 1)
            await holdIfAsked("rebuild-recommendation-index", "index-written");
        },
        ctx.signal,
      );
      await recordDayBuild(build.outDir, day, result.fingerprint);
      ctx.progress(1, result.built ? "built" : "same input as an earlier build");
      await onBuilt();
    },
  });
}

/** The schedule: every `recommend.rebuildEveryMinutes`, the last day whose buckets are all closed (0: none). */
export function scheduleRadioIndex(config: Config, jobs: JobRunner): void {
  const everyMs = config.recommend.rebuildEveryMinutes * 60_000;
  if (everyMs === 0) return;
  jobs.schedule("rebuild-recommendation-index", {
    everyMs,
    params: (nowMs) => ({ day: lastClosedDay(nowMs, config.events.allowedLatenessMs) }),
  });
}

export async function startRecommendService(
  config: Config,
  logger: Logger,
  bus: Bus,
  /** The job runner that schedules the index build (all-in-one); a cluster process builds only when asked. */
  jobs: JobRunner | null,
): Promise<RecommendService> {
  const serviceBus = bus.connect(recommendManifest);
  const build = radioBuildOptions(config, serviceBus);
  const service = createRecommendService({
    logger: logger.child({ service: "recommend" }),
    bus: serviceBus,
    clock: { now: () => Date.now() },
    build,
  });
  await service.start();
  // A loaded index is swapped for the new build at once; one not yet used is read in at its first use.
  jobs?.register(radioIndexJob(build, () => (service.current() ? service.reload() : Promise.resolve())));
  return service;
}
