// Wires the playlist service, its push topic (a client following `playlist.<id>` gets each change it may see) and
// the cover route.
import { createHash, randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Logger } from "pino";
import type { Bus, ServiceBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  AppError,
  myPlaylistsTopic,
  playlistId as playlistIdSchema,
  playlistChangedEvent,
  playlistContract,
  playlistTopic,
  playlistTopicPattern,
} from "@soundmesh/protocol";
import type { Identity, PushTopic } from "@soundmesh/service-access-point";
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

/**
 * `playlist.<id>`: only for users who may see the playlist, and each change only to its audience.
 * `playlists.mine`: a change to each signed-in user whose own list of playlists it changed.
 */
export function playlistTopics(bus: ServiceBus): PushTopic[] {
  const playlist: PushTopic<typeof playlistChangedEvent> = {
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
    // A change that only moved someone's list (a follow) is nothing for the playlist's followers.
    route: (change) =>
      change.revisions.length > 0 || change.membersChanged || change.deleted
        ? [playlistTopic(change.playlistId)]
        : [],
    accepts: (identity, change) => change.audience === null || change.audience.includes(identity.user.id),
  };
  const mine: PushTopic<typeof playlistChangedEvent> = {
    pattern: /^playlists\.mine$/,
    event: playlistChangedEvent,
    authorize: () => undefined,
    route: (change) => (change.listsChanged.length > 0 ? [myPlaylistsTopic] : []),
    accepts: (identity, change) => change.listsChanged.includes(identity.user.id),
  };
  return [playlist, mine];
}

const coverParams = z.object({ playlistId: playlistIdSchema });
const coverQuery = z.object({ size: z.enum(["64", "300", "600"]).default("300") });

/**
 * GET /api/playlists/:playlistId/cover?size=64|300|600: the uploaded cover or the album mosaic, for those who may
 * see the playlist. It changes with the playlist, so it is revalidated by ETag rather than cached for long.
 */
export function registerPlaylistCoverRoute(
  app: FastifyInstance,
  bus: ServiceBus,
  identities: { authenticate(bus: ServiceBus, request: FastifyRequest): Promise<Identity> },
): void {
  app.get("/api/playlists/:playlistId/cover", async (request, reply) => {
    const identity = await identities.authenticate(bus, request);
    const params = coverParams.safeParse(request.params);
    const query = coverQuery.safeParse(request.query);
    if (!params.success || !query.success)
      throw new AppError(
        "VALIDATION_FAILED",
        "A playlist cover is addressed by playlist id and size 64, 300 or 600",
      );
    const size = Number(query.data.size) as 64 | 300 | 600;
    const cover = await bus.request(
      playlistContract,
      "cover",
      { playlistId: params.data.playlistId, size },
      { traceId: request.id, userId: identity.user.id, role: identity.user.role },
    );
    const bytes = Buffer.from(cover.bytes.buffer, cover.bytes.byteOffset, cover.bytes.byteLength);
    const etag = `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"`;
    reply.header("etag", etag).header("cache-control", "private, no-cache");
    if (request.headers["if-none-match"] === etag) return reply.code(304).send();
    return reply.header("content-type", cover.mimeType).send(bytes);
  });
}
