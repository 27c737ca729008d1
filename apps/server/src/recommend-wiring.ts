// Wires the recommend service: the radio index under <data dir>/recommend, built from the event buckets under
// <data dir>/events and the catalog's tracks, rebuilt on the configured interval.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import {
  catalogTracks,
  createRecommendService,
  recommendManifest,
  type BuildRadioOptions,
  type RecommendService,
} from "@soundmesh/service-recommend";
import type { Config } from "./config";

/** The build's folders and tracks, as the service and `soundmesh radio rebuild` both use them. */
export function radioBuildOptions(config: Config, bus: ReturnType<Bus["connect"]>): BuildRadioOptions {
  return {
    eventsDir: join(config.dataDir, "events"),
    outDir: join(config.dataDir, "recommend"),
    loadTracks: (signal) => catalogTracks(bus, signal),
  };
}

export async function startRecommendService(
  config: Config,
  logger: Logger,
  bus: Bus,
): Promise<RecommendService> {
  const serviceBus = bus.connect(recommendManifest);
  const service = createRecommendService({
    logger: logger.child({ service: "recommend" }),
    bus: serviceBus,
    clock: { now: () => Date.now() },
    build: radioBuildOptions(config, serviceBus),
    rebuildIntervalMs: config.recommend.rebuildEveryMinutes * 60_000,
  });
  await service.start();
  return service;
}
