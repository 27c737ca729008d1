// Media: stream (the original, our WebM renditions, or MP3 and Ogg/Opus made live by ffmpeg), download (the
// original), getCoverArt (the catalog's and playlists' covers), getAvatar. Files are found from the catalog by
// id only: no client-supplied path reaches the filesystem.
import { createReadStream, statSync } from "node:fs";
import type { FastifyReply, FastifyRequest } from "fastify";
import { Readable } from "node:stream";
import { catalogContract, playlistContract, toAppError, type TrackRecord } from "@soundmesh/protocol";
import { busCoverSource, parseRange, type RenditionReader } from "@soundmesh/service-access-point";
import { albumsOfArtist } from "../catalog-reads";
import { SENT, type MethodContext, type MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { idOfKind } from "../ids";
import { fileTypeOf } from "../mapping";
import type { TranscodeFormat, Transcoder } from "../transcoder";
import { formatInfo } from "../transcoder";

const RANGE_CHUNK_BYTES = 512 * 1024;

export type Target =
  | { kind: "original" }
  | { kind: "webm"; profile: "opus96" | "opus160" }
  | { kind: "transcode"; format: TranscodeFormat; bitrateKbps: number };

/** What `format` and `maxBitRate` ask for, given the track's own bitrate. */
export function targetOf(format: string | undefined, maxBitRate: number, track: TrackRecord): Target {
  const wanted = (format ?? "").toLowerCase();
  const cap = maxBitRate > 0 ? maxBitRate : undefined;
  if (wanted === "raw") return { kind: "original" };
  if (wanted === "webm")
    return { kind: "webm", profile: cap !== undefined && cap < 160 ? "opus96" : "opus160" };
  if (wanted === "opus" || wanted === "ogg")
    return { kind: "transcode", format: "opus", bitrateKbps: clamp(cap ?? 128, 32, 256) };
  if (wanted === "mp3") return { kind: "transcode", format: "mp3", bitrateKbps: mp3Rate(cap ?? 192) };
  if (wanted !== "")
    throw new SubsonicError(0, `Unknown format ${wanted.slice(0, 20)}: raw, mp3, opus or webm`);
  // No format: the original unless it is over the cap, then MP3 under it.
  if (cap === undefined || (track.bitrateKbps !== null && track.bitrateKbps <= cap))
    return { kind: "original" };
  return { kind: "transcode", format: "mp3", bitrateKbps: mp3Rate(cap) };
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
/** LAME's constant bitrates: the highest at or below the cap. */
function mp3Rate(cap: number): number {
  const rates = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
  return rates.filter((rate) => rate <= cap).pop() ?? 32;
}

export async function trackAndPath(context: MethodContext, value: string) {
  const { id } = idOfKind(value, "track");
  const track = await context.call(catalogContract, "track", { trackId: id });
  // The path comes from the catalog (the storage service's own question), never from the request.
  const source = await context.deps.bus.request(
    catalogContract,
    "trackSource",
    { trackId: id },
    { traceId: context.request.id },
  );
  return { track, path: source.path };
}

/** What delivering audio needs: the HTTP exchange, the transcoder and renditions, and who it counts against. */
export interface Delivery {
  request: FastifyRequest;
  reply: FastifyReply;
  transcoder: Transcoder;
  reader: RenditionReader;
  /** The user (or share) the per-user transcode limit counts against. */
  userId: string;
}

/**
 * Answers `sizeBytes` of `mimeType` with Range honoured: the whole (200), the range asked (206), or 416 with the
 * size; `body` makes the bytes [start, endInclusive].
 */
function sendRanged(
  http: Pick<Delivery, "request" | "reply">,
  sizeBytes: number,
  mimeType: string,
  body: (start: number, endInclusive: number) => Readable,
  extraHeaders: Record<string, string> = {},
): typeof SENT {
  const { reply, request } = http;
  let range;
  try {
    range = parseRange(request.headers.range, sizeBytes);
  } catch {
    void reply.code(416).header("content-range", `bytes */${sizeBytes}`).send();
    return SENT;
  }
  const start = range?.start ?? 0;
  const endInclusive = range?.endInclusive ?? sizeBytes - 1;
  reply.header("accept-ranges", "bytes").header("content-type", mimeType);
  for (const [name, value] of Object.entries(extraHeaders)) reply.header(name, value);
  if (range !== null) reply.code(206).header("content-range", `bytes ${start}-${endInclusive}/${sizeBytes}`);
  void reply
    .header("content-length", String(endInclusive - start + 1))
    .send(endInclusive < start ? Buffer.alloc(0) : body(start, endInclusive)); // an empty file
  return SENT;
}

/** A whole file with Range honoured (206, 416 with the size). */
function sendFile(
  http: Pick<Delivery, "request" | "reply">,
  path: string,
  mimeType: string,
  extraHeaders: Record<string, string> = {},
): typeof SENT {
  let sizeBytes: number;
  try {
    sizeBytes = statSync(path).size;
  } catch (error) {
    throw new SubsonicError(70, `The file is not available: ${toAppError(error).message}`);
  }
  return sendRanged(
    http,
    sizeBytes,
    mimeType,
    (start, end) => createReadStream(path, { start, end }),
    extraHeaders,
  );
}

/**
 * Our WebM rendition from storage (the web player's cache). A finished one is sent in ranges, `Range` honoured (206,
 * 416). One still being made — a track never played before — starts at once: its pieces are sent as ffmpeg makes
 * them (the growing manifest, long-polled as the web player does), without a length, and a `Range` is answered
 * whole (200), as HTTP allows, since the size is not known yet.
 */
async function sendRendition(delivery: Delivery, trackId: string, profile: string): Promise<typeof SENT> {
  const readContext = { traceId: delivery.request.id, userId: delivery.userId };
  const { reader, reply, request } = delivery;
  // Answers as soon as the first piece exists (or at once for a finished rendition).
  const first = await reader.manifest(trackId, profile, readContext, 0);
  if (!first.complete) {
    let stopped = false;
    request.raw.on("close", () => (stopped = true));
    async function* pieces() {
      let manifest = first;
      let next = 0;
      while (!stopped) {
        for (; next < manifest.pieceCount && !stopped; next++)
          yield Buffer.from((await reader.piece(trackId, profile, next, readContext)).bytes);
        if (manifest.complete && next >= manifest.pieceCount) return;
        manifest = await reader.manifest(trackId, profile, readContext, next);
      }
    }
    void reply.header("content-type", first.mimeType).send(Readable.from(pieces()));
    return SENT;
  }
  async function* chunks(start: number, endInclusive: number) {
    for (let from = start; from <= endInclusive; from += RANGE_CHUNK_BYTES) {
      const to = Math.min(endInclusive, from + RANGE_CHUNK_BYTES - 1);
      yield Buffer.from(await reader.range(trackId, profile, from, to, readContext));
    }
  }
  return sendRanged(delivery, first.sizeBytes, first.mimeType, (start, end) =>
    Readable.from(chunks(start, end)),
  );
}

/**
 * Sends a track as `target` from `offsetSeconds`: the original or our WebM rendition as they are, or an MP3 or
 * Ogg/Opus transcode (from the cache with Range when finished before, else live from ffmpeg).
 */
export function deliverTrack(
  delivery: Delivery,
  track: TrackRecord,
  path: string,
  target: Target,
  offsetSeconds: number,
): Promise<typeof SENT> | typeof SENT {
  if (target.kind === "original" && offsetSeconds === 0)
    return sendFile(delivery, path, fileTypeOf(track.codec).contentType);
  if (target.kind === "webm" && offsetSeconds === 0) return sendRendition(delivery, track.id, target.profile);
  const transcode = target.kind === "transcode" ? target : { format: "opus" as const, bitrateKbps: 160 };
  const info = formatInfo[transcode.format];
  const cached =
    offsetSeconds === 0
      ? delivery.transcoder.cached(track.id, transcode.format, transcode.bitrateKbps)
      : undefined;
  if (cached) return sendFile(delivery, cached, info.mimeType);
  const abort = new AbortController();
  delivery.request.raw.on("close", () => abort.abort());
  delivery.reply.raw.on("close", () => abort.abort());
  const output = delivery.transcoder.start(
    {
      trackId: track.id,
      path,
      format: transcode.format,
      bitrateKbps: transcode.bitrateKbps,
      offsetSeconds,
      userId: delivery.userId,
    },
    abort.signal,
  );
  void delivery.reply
    .header("content-type", info.mimeType)
    .header("x-content-duration", String(track.durationMs / 1000 - offsetSeconds))
    .send(output);
  return SENT;
}

function noteNowPlaying(context: MethodContext, track: TrackRecord, offsetSeconds: number) {
  const now = Date.now();
  context.state.playing(context.identity.user.id, {
    userName: context.identity.user.name,
    trackId: track.id,
    playerName: context.params.optionalString("c", 100) ?? "",
    startedAtMs: now - offsetSeconds * 1000,
    untilMs: now + Math.max(0, track.durationMs - offsetSeconds * 1000),
  });
}

/** The Delivery of a Subsonic request. */
export const deliveryOf = (context: MethodContext): Delivery => ({
  request: context.request,
  reply: context.reply,
  transcoder: context.transcoder,
  reader: context.deps.reader,
  userId: context.identity.user.id,
});

async function coverOf(context: MethodContext, value: string, size: 64 | 300 | 600) {
  const { kind, id } = idOfKind(value, "album", "track", "artist", "playlist");
  if (kind === "playlist") return context.call(playlistContract, "cover", { playlistId: id, size });
  let albumId = id;
  if (kind === "track") albumId = (await context.call(catalogContract, "track", { trackId: id })).albumId;
  if (kind === "artist") {
    const album = (await albumsOfArtist(context, id)).find((candidate) => candidate.hasCover);
    if (!album) throw new SubsonicError(70, "The artist has no cover art");
    albumId = album.id;
  }
  return (context.deps.covers ?? busCoverSource(context.deps.bus))(albumId, size, context.request.id);
}

export const mediaMethods: MethodTable = {
  async stream(context) {
    const { params } = context;
    const { track, path } = await trackAndPath(context, params.string("id", 100));
    const target = targetOf(
      params.optionalString("format", 20),
      params.intOr("maxBitRate", 0, 0, 10_000),
      track,
    );
    const offsetSeconds = params.intOr("timeOffset", 0, 0, 86_400);
    if (offsetSeconds * 1000 >= track.durationMs && offsetSeconds > 0)
      throw new SubsonicError(0, "timeOffset is past the end of the track");
    noteNowPlaying(context, track, offsetSeconds);
    return deliverTrack(deliveryOf(context), track, path, target, offsetSeconds);
  },

  async download(context) {
    const { track, path } = await trackAndPath(context, context.params.string("id", 100));
    const { suffix, contentType } = fileTypeOf(track.codec);
    const fileName = `${track.title}.${suffix}`.replace(/["\\\r\n]/g, "_");
    return sendFile(context, path, contentType, {
      "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(fileName)}`,
    });
  },

  async getCoverArt(context) {
    const requested = context.params.optionalInt("size", 1, 10_000);
    const size = requested === undefined ? 600 : requested <= 64 ? 64 : requested <= 300 ? 300 : 600;
    let cover;
    try {
      cover = await coverOf(context, context.params.string("id", 100), size);
    } catch (error) {
      if (error instanceof SubsonicError) throw error;
      if (toAppError(error).code === "NOT_FOUND") throw new SubsonicError(70, "No cover art");
      throw error;
    }
    void context.reply
      .header("content-type", cover.mimeType)
      .header("cache-control", "private, max-age=86400")
      .send(Buffer.from(cover.bytes.buffer, cover.bytes.byteOffset, cover.bytes.byteLength));
    return SENT;
  },

  getAvatar(context) {
    context.params.string("username", 64);
    return Promise.reject(new SubsonicError(70, "No avatar"));
  },
};
