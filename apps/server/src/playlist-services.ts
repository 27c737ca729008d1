// Wires the playlist service and its push topic: a client following `playlist.<id>` gets each change it may see.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Bus, ServiceBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  AppError,
  playlistChangedEvent,
  playlistContract,
  playlistTopic,
  playlistTopicPattern,
} from "@soundmesh/protocol";
import type { PushTopic } from "@soundmesh/service-access-point";
import {
  createPlaylistService,
  createSqlPlaylistStore,
  migratePlaylistStore,
  playlistManifest,
  type PlaylistService,
} from "@soundmesh/service-playlist";

export async function startPlaylistService(logger: Logger, bus: Bus, db: Db): Promise<PlaylistService> {
  await migratePlaylistStore(db);
  const service = createPlaylistService({
    logger: logger.child({ service: "playlist" }),
    bus: bus.connect(playlistManifest),
    store: createSqlPlaylistStore(db),
    clock: { now: () => Date.now() },
    newId: () => randomBytes(12).toString("base64url"),
  });
  await service.start();
  return service;
}

/** `playlist.<id>`: only for users who may see the playlist, and each change only to its audience. */
export function playlistTopics(bus: ServiceBus): PushTopic[] {
  const topic: PushTopic<typeof playlistChangedEvent> = {
    pattern: playlistTopicPattern,
    event: playlistChangedEvent,
    async authorize(identity, name) {
      const playlistId = playlistTopicPattern.exec(name)![1]!;
      const { canView } = await bus.request(
        playlistContract,
        "access",
        { playlistId },
        { userId: identity.user.id, role: identity.user.role },
      );
      if (!canView) throw new AppError("NOT_FOUND", "No such playlist");
    },
    route: (change) => [playlistTopic(change.playlistId)],
    accepts: (identity, change) => change.audience === null || change.audience.includes(identity.user.id),
  };
  return [topic];
}
