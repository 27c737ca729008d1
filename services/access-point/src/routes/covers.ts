// The covers area: album art and playlist covers over HTTP for the player, resized by the service that owns them.
import { createHash } from "node:crypto";
import type { FastifyPluginCallback, FastifyReply } from "fastify";
import { z } from "zod";
import { catalogContract, playlistContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { identityOf } from "../auth";
import type { ZodTypeProvider } from "../route-schemas";

/** `?size=64|300|600` (300 when absent), as the contracts' cover sizes. */
const sizeQuery = z.object({
  size: z
    .enum(["64", "300", "600"])
    .default("300")
    .transform((size) => Number(size) as 64 | 300 | 600),
});

const albumCover = {
  params: catalogContract.methods.cover.params
    .pick({ albumId: true })
    .describe("A cover is addressed by album id and size 64, 300 or 600"),
  querystring: sizeQuery.describe("A cover is addressed by album id and size 64, 300 or 600"),
};
const playlistCover = {
  params: playlistContract.methods.cover.params
    .pick({ playlistId: true })
    .describe("A playlist cover is addressed by playlist id and size 64, 300 or 600"),
  querystring: sizeQuery.describe("A playlist cover is addressed by playlist id and size 64, 300 or 600"),
};

const bytesOf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export const coverRoutes: FastifyPluginCallback<{ bus: ServiceBus }> = (scope, { bus }, done) => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const auth = {};

  // Album art never changes for an album id: cached by the browser for a day.
  app.get("/api/cover/:albumId", { schema: albumCover, config: { auth } }, async (request, reply) => {
    const cover = await bus.request(
      catalogContract,
      "cover",
      { albumId: request.params.albumId, size: request.query.size },
      { traceId: request.id },
    );
    return reply
      .header("content-type", cover.mimeType)
      .header("cache-control", "private, max-age=86400")
      .send(bytesOf(cover.bytes));
  });

  /**
   * The uploaded cover or the album mosaic, for those who may see the playlist. It changes with the playlist, so it
   * is revalidated by ETag rather than cached for long.
   */
  app.get(
    "/api/playlists/:playlistId/cover",
    { schema: playlistCover, config: { auth } },
    async (request, reply): Promise<FastifyReply> => {
      const { user } = identityOf(request);
      const cover = await bus.request(
        playlistContract,
        "cover",
        { playlistId: request.params.playlistId, size: request.query.size },
        { traceId: request.id, userId: user.id, role: user.role },
      );
      const bytes = bytesOf(cover.bytes);
      const etag = `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"`;
      void reply.header("etag", etag).header("cache-control", "private, no-cache");
      if (request.headers["if-none-match"] === etag) return reply.code(304).send();
      return reply.header("content-type", cover.mimeType).send(bytes);
    },
  );
  done();
};
