// The covers area: album art and playlist covers over HTTP for the player, resized by the service that owns them,
// and a playlist cover's upload: the image's bytes as the body of a PUT, never text in a socket frame.
import { createHash } from "node:crypto";
import type { FastifyPluginCallback, FastifyReply } from "fastify";
import { z } from "zod";
import { AppError, MAX_COVER_UPLOAD_BYTES, catalogContract, playlistContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { identityOf } from "../auth";
import type { CoverSource } from "../cover-source";
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

const playlistAddressed = playlistContract.methods.setCover.params
  .pick({ playlistId: true })
  .describe("A playlist cover is addressed by playlist id");
/** What an upload may be; the playlist service checks the bytes say the same. */
const UPLOAD_TYPES = ["image/jpeg", "image/png", "image/webp"];

const bytesOf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export const coverRoutes: FastifyPluginCallback<{ bus: ServiceBus; covers: CoverSource }> = (
  scope,
  { bus, covers },
  done,
) => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const auth = {};

  // Album art never changes for an album id: cached by the browser for a day.
  app.get("/api/cover/:albumId", { schema: albumCover, config: { auth } }, async (request, reply) => {
    const cover = await covers(request.params.albumId, request.query.size, request.id);
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

  // The upload's body is taken as bytes for these types only (in this plugin): anything else is 415, by Fastify.
  app.addContentTypeParser(
    UPLOAD_TYPES,
    { parseAs: "buffer", bodyLimit: MAX_COVER_UPLOAD_BYTES },
    (_request, body, done) => done(null, body),
  );

  /** Editors upload a JPEG, PNG or WebP image (at most MAX_COVER_UPLOAD_BYTES) as the body; answers the playlist. */
  app.put(
    "/api/playlists/:playlistId/cover",
    { schema: { params: playlistAddressed }, config: { auth }, bodyLimit: MAX_COVER_UPLOAD_BYTES },
    async (request) => {
      const { user } = identityOf(request);
      if (!(request.body instanceof Uint8Array))
        throw new AppError("BAD_REQUEST", "The cover is sent as the body: a JPEG, PNG or WebP image");
      return bus.request(
        playlistContract,
        "setCover",
        { playlistId: request.params.playlistId, image: request.body },
        { traceId: request.id, userId: user.id, role: user.role },
      );
    },
  );

  /** Editors go back to the album mosaic; answers the playlist. */
  app.delete(
    "/api/playlists/:playlistId/cover",
    { schema: { params: playlistAddressed }, config: { auth } },
    async (request) => {
      const { user } = identityOf(request);
      return bus.request(
        playlistContract,
        "setCover",
        { playlistId: request.params.playlistId, image: null },
        { traceId: request.id, userId: user.id, role: user.role },
      );
    },
  );
  done();
};
