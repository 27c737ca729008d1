// Wires the playlist service (its push topics and cover route are the access point's).
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  createPlaylistService,
  createSqlPlaylistStore,
  createSqlSnapshotStore,
  migratePlaylistStore,
  playlistManifest,
  type PlaylistService,
} from "@soundmesh/service-playlist";

export async function startPlaylistService(
  logger: Logger,
  bus: Bus,
  db: Db,
  coverLimits?: { maxPixels: number; maxConcurrentDecodes: number },
): Promise<PlaylistService> {
  await migratePlaylistStore(db);
  const service = createPlaylistService({
    ...(coverLimits ? { coverLimits } : {}),
    logger: logger.child({ service: "playlist" }),
    bus: bus.connect(playlistManifest),
    store: createSqlPlaylistStore(db),
    snapshots: createSqlSnapshotStore(db),
    clock: { now: () => Date.now() },
    newId: () => randomBytes(12).toString("base64url"),
  });
  await service.start();
  return service;
}
