// HTTP streaming: a rendition's manifest, its pieces, and whole-file byte ranges — addressed by track id and profile only.
import { Readable } from "node:stream";
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  AppError,
  manifestEtag,
  manifestQuery,
  offsetParam,
  storageContract,
  streamManifest,
  trackerContract,
  type StreamManifest,
} from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { identityOf } from "../auth";
import { sendProblem } from "../http-errors";
import type { Listener, RenditionReader } from "../rendition-reader";
import type { ZodTypeProvider } from "../route-schemas";

export interface StreamRouteOptions {
  bus: ServiceBus;
  reader: RenditionReader;
  /** Largest range asked of storage in one call (NATS limits a message to 1 MiB by default). */
  maxRangeChunkBytes?: number;
}

const addressed = "Audio is addressed by a track id and a profile name";
/** The track and profile, as the storage contract names them. */
const rendition = storageContract.methods.piece.params.pick({ trackId: true, profile: true });
/** Decimal digits only: " 1", "0x10", "1e3" and "+1" are not indexes, however Number() reads them. */
const pieceIndex = z
  .string()
  .regex(/^\d{1,7}$/)
  .transform(Number)
  .pipe(storageContract.methods.piece.params.shape.index);
const renditionParams = rendition.describe(addressed);
const pieceParams = rendition.extend({ index: pieceIndex }).describe(addressed);
const offsetRenditionParams = rendition.extend({ fromMs: offsetParam }).describe(addressed);
const offsetPieceParams = rendition.extend({ index: pieceIndex, fromMs: offsetParam }).describe(addressed);
const manifestQueryString = manifestQuery.describe("havePieces is the number of pieces the caller knows");

export interface ByteRange {
  start: number;
  endInclusive: number;
}

/** Parses a single `bytes=` range against a size (RFC 9110 §14.1.2); null means "the whole file". */
export function parseRange(header: string | undefined, sizeBytes: number): ByteRange | null {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === ""))
    throw new AppError("RANGE_NOT_SATISFIABLE", "Only one bytes= range is served");
  const [, first, last] = match;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || sizeBytes === 0) throw new AppError("RANGE_NOT_SATISFIABLE");
    return { start: Math.max(0, sizeBytes - suffix), endInclusive: sizeBytes - 1 };
  }
  const start = Number(first);
  const endInclusive = last === "" ? sizeBytes - 1 : Math.min(Number(last), sizeBytes - 1);
  if (start >= sizeBytes || endInclusive < start) throw new AppError("RANGE_NOT_SATISFIABLE");
  return { start, endInclusive };
}

export const streamRoutes: FastifyPluginCallback<StreamRouteOptions> = (scope, options, done) => {
  const { bus, reader } = options;
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const chunkBytes = options.maxRangeChunkBytes ?? 512 * 1024;
  const config = { auth: {} };
  const listenerOf = (request: FastifyRequest): Listener => ({
    userId: identityOf(request).user.id,
    traceId: request.id,
  });

  /**
   * Manifests as answered, by the reader's object: storage holds one object per complete manifest (and per state of
   * a growing one), so a cached manifest is checked and serialised once, not on every request.
   */
  const answers = new WeakMap<StreamManifest, { json: string; etag: string }>();
  const answerOf = (held: StreamManifest) => {
    let answer = answers.get(held);
    if (!answer) {
      const manifest = streamManifest.parse(held);
      answer = { json: JSON.stringify(manifest), etag: manifestEtag(manifest) };
      answers.set(held, answer);
    }
    return answer;
  };
  const told = new ToldTracker();

  app.get(
    "/api/stream/:trackId/:profile/manifest",
    { schema: { params: renditionParams, querystring: manifestQueryString }, config },
    async (request, reply) => {
      const { trackId, profile } = request.params;
      const listener = listenerOf(request);
      const { json, etag } = answerOf(
        await reader.manifest(trackId, profile, listener, request.query.havePieces),
      );
      const { user, sessionId } = identityOf(request);
      const fetched = { trackId, profile, userId: user.id, sessionId };
      if (told.isDue(fetched) && (await tellTracker(bus, request, fetched))) told.mark(fetched);
      void reply.header("etag", etag).header("cache-control", "private, no-cache");
      if (request.headers["if-none-match"] === etag) return reply.status(304).send();
      return reply.type("application/json; charset=utf-8").send(json);
    },
  );

  // An offset rendition (a seek past what the transcode has reached): addressed apart, so its pieces can never be
  // taken for the rendition's own; peers never hold it, so the tracker is not told.
  app.get(
    "/api/stream/:trackId/:profile/from/:fromMs/manifest",
    { schema: { params: offsetRenditionParams, querystring: manifestQueryString }, config },
    async (request, reply) => {
      const { trackId, profile, fromMs } = request.params;
      const held = await reader.manifest(
        trackId,
        profile,
        listenerOf(request),
        request.query.havePieces,
        fromMs,
      );
      return reply
        .header("cache-control", "private, no-cache")
        .type("application/json; charset=utf-8")
        .send(answerOf(held).json);
    },
  );

  const sendPiece = (reply: FastifyReply, { bytes }: { bytes: Uint8Array }) =>
    // A piece never changes for a given manifest: the client verifies it against the manifest's hash anyway.
    reply
      .header("content-type", "application/octet-stream")
      .header("cache-control", "private, max-age=86400")
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

  app.get(
    "/api/stream/:trackId/:profile/pieces/:index",
    { schema: { params: pieceParams }, config },
    async (request, reply) => {
      const { trackId, profile, index } = request.params;
      return sendPiece(reply, await reader.piece(trackId, profile, index, listenerOf(request)));
    },
  );

  app.get(
    "/api/stream/:trackId/:profile/from/:fromMs/pieces/:index",
    { schema: { params: offsetPieceParams }, config },
    async (request, reply) => {
      const { trackId, profile, index, fromMs } = request.params;
      return sendPiece(reply, await reader.piece(trackId, profile, index, listenerOf(request), fromMs));
    },
  );

  app.get(
    "/api/stream/:trackId/:profile/file",
    { schema: { params: renditionParams }, config },
    async (request, reply) => {
      const { trackId, profile } = request.params;
      const listener = listenerOf(request);
      const manifest = await reader.manifest(trackId, profile, listener);
      const etag = `"${manifest.pieceHashes[manifest.pieceHashes.length - 1] ?? "empty"}-${manifest.sizeBytes}"`;
      let range: ByteRange | null;
      try {
        range = parseRange(request.headers.range, manifest.sizeBytes);
      } catch (error) {
        void reply.header("content-range", `bytes */${manifest.sizeBytes}`);
        return sendProblem(reply, error as AppError);
      }
      const { start, endInclusive } = range ?? { start: 0, endInclusive: manifest.sizeBytes - 1 };
      void reply
        .header("accept-ranges", "bytes")
        .header("etag", etag)
        .header("cache-control", "private, max-age=86400")
        .header("content-type", manifest.mimeType)
        .header("content-length", String(Math.max(0, endInclusive - start + 1)));
      if (range)
        void reply
          .status(206)
          .header("content-range", `bytes ${start}-${endInclusive}/${manifest.sizeBytes}`);
      if (manifest.sizeBytes === 0) return reply.send(Buffer.alloc(0));
      return sendChunks(
        reply,
        (from, to) => reader.range(trackId, profile, from, to, listener),
        start,
        endInclusive,
        chunkBytes,
      );
    },
  );
  done();
};

/**
 * Which sessions the tracker was told of lately, per rendition: a player asks for a manifest many times while it
 * grows and on every replay, and telling the tracker once a minute keeps its record (and its recency) as fresh.
 */
type Fetched = { trackId: string; profile: string; userId: string; sessionId: string };
const keyOf = ({ trackId, profile, sessionId }: Fetched) => `${sessionId} ${trackId} ${profile}`;

class ToldTracker {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly everyMs = 60_000,
    private readonly max = 10_000,
  ) {}

  isDue(fetched: Fetched): boolean {
    return (this.until.get(keyOf(fetched)) ?? 0) <= performance.now();
  }

  mark(fetched: Fetched): void {
    const key = keyOf(fetched);
    this.until.delete(key);
    if (this.until.size >= this.max) this.until.delete(this.until.keys().next().value as string);
    this.until.set(key, performance.now() + this.everyMs);
  }
}

/**
 * The session fetched (or revalidated) the manifest of a rendition that exists: its peers may now announce holding it.
 * Told before the answer, so an announce right after it is accepted; without a tracker, P2P is off, audio is not.
 */
async function tellTracker(bus: ServiceBus, request: FastifyRequest, fetched: Fetched): Promise<boolean> {
  try {
    await bus.request(trackerContract, "renditionFetched", fetched, {
      traceId: request.id,
      timeoutMs: 2_000,
    });
    return true;
  } catch (error) {
    request.log.debug({ err: error }, "tracker not told of a fetched rendition");
    return false;
  }
}

function sendChunks(
  reply: FastifyReply,
  read: (start: number, endInclusive: number) => Promise<Uint8Array>,
  start: number,
  endInclusive: number,
  chunkBytes: number,
): FastifyReply {
  async function* chunks() {
    for (let offset = start; offset <= endInclusive; offset += chunkBytes) {
      const bytes = await read(offset, Math.min(endInclusive, offset + chunkBytes - 1));
      yield Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
  }
  return reply.send(Readable.from(chunks()));
}
