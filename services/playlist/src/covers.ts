// Playlist covers: an uploaded image normalised to a 600 px JPEG, or else a mosaic of the first four albums' art
// (one album's art when there are fewer), made with sharp and kept in a small memory cache keyed by revision.
// Every decode waits for one of a few slots, and an upload's size is read from its header before it is decoded.
import type sharpModule from "sharp";
import type { ServiceBus } from "@soundmesh/bus";
import { AppError, catalogContract } from "@soundmesh/protocol";
import type { PlaylistStore, StoredPlaylist } from "./store";

export type CoverSize = 64 | 300 | 600;
const uploadSize = 600;
/** Albums looked at for the mosaic, and tracks read to find them. */
const mosaicAlbums = 4;
const tracksScanned = 200;
const cacheEntries = 200;
/** Decodes waiting for a slot; beyond it BUSY. */
const maxWaitingDecodes = 1_000;
const uploadFormats = new Set(["jpeg", "png", "webp"]);

export interface CoverLimits {
  /** Uploads with more pixels than this (by their header) are refused without being decoded. */
  maxPixels: number;
  /** Images decoded at once. */
  maxConcurrentDecodes: number;
}

export const defaultCoverLimits: CoverLimits = { maxPixels: 40_000_000, maxConcurrentDecodes: 2 };

/** A small counting semaphore: at most `limit` decodes at once, at most `maxWaiting` queued behind them. */
class DecodeGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= maxWaitingDecodes)
        throw new AppError("BUSY", "Too many images are waiting to be decoded; try again in a few seconds");
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

type Sharp = typeof sharpModule;
let sharpLoading: Promise<Sharp> | undefined;
/**
 * sharp (libvips and its JavaScript, some 15 MiB resident) loads with the first cover made, not with the service;
 * libvips's operation cache is off, since made covers are kept here already and it would hold up to 50 MiB more.
 */
const loadSharp = (): Promise<Sharp> =>
  (sharpLoading ??= import("sharp").then(({ default: sharp }) => {
    sharp.cache(false);
    return sharp;
  }));

const megapixels = (pixels: number) => Math.round(pixels / 100_000) / 10;

export function createCovers({
  bus,
  store,
  limits = defaultCoverLimits,
}: {
  bus: ServiceBus;
  store: PlaylistStore;
  limits?: CoverLimits;
}) {
  const gate = new DecodeGate(limits.maxConcurrentDecodes);
  const cache = new Map<string, Uint8Array>();
  /** Mosaics being made, by cache key: concurrent first requests share one. */
  const inFlight = new Map<string, Promise<Uint8Array>>();

  function remember(key: string, bytes: Uint8Array): Uint8Array {
    if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, bytes);
    return bytes;
  }

  /**
   * Checks that the upload is a JPEG, PNG or WebP whose header shows at most `maxPixels` pixels, then decodes it
   * (in turn) into a 600 px JPEG.
   */
  async function normaliseUpload(image: Uint8Array): Promise<Uint8Array> {
    const bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
    const sharp = await loadSharp();
    const header = await sharp(bytes)
      .metadata()
      .catch(() => undefined);
    if (!header?.format || !uploadFormats.has(header.format) || !header.width || !header.height)
      throw new AppError("BAD_REQUEST", "The cover must be a JPEG, PNG or WebP image");
    const pixels = header.width * header.height;
    if (pixels > limits.maxPixels)
      throw new AppError(
        "BAD_REQUEST",
        `The cover is ${header.width}×${header.height} pixels (${megapixels(pixels)} megapixels); at most ${megapixels(limits.maxPixels)} megapixels are accepted`,
      );
    return gate
      .run(() =>
        sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: "error" })
          .rotate()
          .resize(uploadSize, uploadSize, { fit: "cover" })
          .jpeg({ quality: 85, mozjpeg: true })
          .toBuffer(),
      )
      .catch((error: unknown) => {
        if (error instanceof AppError) throw error;
        throw new AppError("BAD_REQUEST", "The cover must be a JPEG, PNG or WebP image", { cause: error });
      });
  }

  /** Album covers of the first distinct albums that have one, at `size` (catalog sizes only). */
  async function albumCovers(
    playlistId: string,
    size: CoverSize,
    traceId: string,
    userId: string,
  ): Promise<Uint8Array[]> {
    const items = await store.liveItems(playlistId);
    const trackIds = [...new Set(items.slice(0, tracksScanned).map((item) => item.trackId))];
    if (trackIds.length === 0) return [];
    const tracks = await bus.request(catalogContract, "tracks", { trackIds }, { traceId, userId });
    const albumIds = [...new Set(tracks.map((track) => track.albumId))];
    const covers: Uint8Array[] = [];
    for (const albumId of albumIds) {
      if (covers.length === mosaicAlbums) break;
      try {
        covers.push(
          (await bus.request(catalogContract, "cover", { albumId, size }, { traceId, userId })).bytes,
        );
      } catch (error) {
        // An album without art is skipped; anything else is a real failure.
        if (!(error instanceof AppError && error.code === "NOT_FOUND")) throw error;
      }
    }
    return covers;
  }

  async function mosaic(
    playlist: StoredPlaylist,
    size: CoverSize,
    traceId: string,
    userId: string,
  ): Promise<Uint8Array> {
    const tileSize = size / 2;
    const covers = await albumCovers(playlist.id, size, traceId, userId);
    if (covers.length === 0) throw new AppError("NOT_FOUND", "The playlist has no cover and no album art");
    if (covers.length < mosaicAlbums) return covers[0]!;
    const sharp = await loadSharp();
    return gate.run(async () => {
      const tiles = await Promise.all(
        covers.map((cover) => sharp(cover).resize(tileSize, tileSize, { fit: "cover" }).toBuffer()),
      );
      return sharp({ create: { width: size, height: size, channels: 3, background: "#222" } })
        .composite(
          tiles.map((input, i) => ({ input, left: (i % 2) * tileSize, top: Math.floor(i / 2) * tileSize })),
        )
        .jpeg({ quality: 85, mozjpeg: true })
        .toBuffer();
    });
  }

  return {
    normaliseUpload,
    async cover(
      playlist: StoredPlaylist,
      size: CoverSize,
      traceId: string,
      userId: string,
    ): Promise<{ bytes: Uint8Array; mimeType: string }> {
      if (playlist.hasUploadedCover) {
        const uploaded = await store.cover(playlist.id);
        if (!uploaded) throw new AppError("NOT_FOUND", "The playlist has no cover");
        const sharp = await loadSharp();
        const bytes =
          size === uploadSize
            ? uploaded
            : await gate.run(() => sharp(uploaded).resize(size, size).jpeg({ quality: 85 }).toBuffer());
        return { bytes, mimeType: "image/jpeg" };
      }
      // A mosaic changes only with the items (or, rarely, album art): one per revision and size.
      const key = `${playlist.id}:${playlist.revision}:${size}`;
      const cached = cache.get(key);
      if (cached) return { bytes: cached, mimeType: "image/jpeg" };
      let pending = inFlight.get(key);
      if (!pending) {
        pending = mosaic(playlist, size, traceId, userId)
          .then((bytes) => remember(key, bytes))
          .finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return { bytes: await pending, mimeType: "image/jpeg" };
    },
  };
}
