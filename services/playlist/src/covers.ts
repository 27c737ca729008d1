// Playlist covers: an uploaded image normalised to a 600 px JPEG, or else a mosaic of the first four albums' art
// (one album's art when there are fewer), made with sharp and kept in a small memory cache keyed by revision.
import sharp from "sharp";
import type { ServiceBus } from "@soundmesh/bus";
import { AppError, catalogContract } from "@soundmesh/protocol";
import type { PlaylistStore, StoredPlaylist } from "./store";

export type CoverSize = 64 | 300 | 600;
const uploadSize = 600;
/** Albums looked at for the mosaic, and tracks read to find them. */
const mosaicAlbums = 4;
const tracksScanned = 200;
const cacheEntries = 200;

/** Checks that the upload is an image sharp can read (bounded in pixels) and stores it as a 600 px JPEG. */
export async function normaliseUpload(imageBase64: string): Promise<Uint8Array> {
  const bytes = Buffer.from(imageBase64, "base64");
  try {
    const image = sharp(bytes, { limitInputPixels: 50_000_000, failOn: "error" });
    const { format } = await image.metadata();
    if (format !== "jpeg" && format !== "png" && format !== "webp") throw new Error(`format ${format}`);
    return await image
      .rotate()
      .resize(uploadSize, uploadSize, { fit: "cover" })
      .jpeg({ quality: 85, mozjpeg: true })
      .toBuffer();
  } catch (error) {
    throw new AppError("BAD_REQUEST", "The cover must be a JPEG, PNG or WebP image", { cause: error });
  }
}

export function createCovers({ bus, store }: { bus: ServiceBus; store: PlaylistStore }) {
  const cache = new Map<string, Uint8Array>();

  function remember(key: string, bytes: Uint8Array): Uint8Array {
    if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, bytes);
    return bytes;
  }

  /** Album covers of the first distinct albums that have one, at `size` (catalog sizes only). */
  async function albumCovers(playlistId: string, size: CoverSize, traceId: string): Promise<Uint8Array[]> {
    const items = await store.liveItems(playlistId);
    const trackIds = [...new Set(items.slice(0, tracksScanned).map((item) => item.trackId))];
    if (trackIds.length === 0) return [];
    const tracks = await bus.request(catalogContract, "tracks", { trackIds }, { traceId });
    const albumIds = [...new Set(tracks.map((track) => track.albumId))];
    const covers: Uint8Array[] = [];
    for (const albumId of albumIds) {
      if (covers.length === mosaicAlbums) break;
      try {
        covers.push((await bus.request(catalogContract, "cover", { albumId, size }, { traceId })).bytes);
      } catch (error) {
        // An album without art is skipped; anything else is a real failure.
        if (!(error instanceof AppError && error.code === "NOT_FOUND")) throw error;
      }
    }
    return covers;
  }

  async function mosaic(playlist: StoredPlaylist, size: CoverSize, traceId: string): Promise<Uint8Array> {
    const tileSize = size / 2;
    const covers = await albumCovers(playlist.id, size === 64 ? 64 : size === 300 ? 300 : 600, traceId);
    if (covers.length === 0) throw new AppError("NOT_FOUND", "The playlist has no cover and no album art");
    if (covers.length < mosaicAlbums) return covers[0]!;
    const tiles = await Promise.all(
      covers.map((cover) => sharp(cover).resize(tileSize, tileSize, { fit: "cover" }).toBuffer()),
    );
    return sharp({ create: { width: size, height: size, channels: 3, background: "#222" } })
      .composite(
        tiles.map((input, i) => ({ input, left: (i % 2) * tileSize, top: Math.floor(i / 2) * tileSize })),
      )
      .jpeg({ quality: 85, mozjpeg: true })
      .toBuffer();
  }

  return {
    async cover(
      playlist: StoredPlaylist,
      size: CoverSize,
      traceId: string,
    ): Promise<{ bytes: Uint8Array; mimeType: string }> {
      if (playlist.hasUploadedCover) {
        const uploaded = await store.cover(playlist.id);
        if (!uploaded) throw new AppError("NOT_FOUND", "The playlist has no cover");
        const bytes =
          size === uploadSize
            ? uploaded
            : await sharp(uploaded).resize(size, size).jpeg({ quality: 85 }).toBuffer();
        return { bytes, mimeType: "image/jpeg" };
      }
      // A mosaic changes only with the items (or, rarely, album art): one per revision and size.
      const key = `${playlist.id}:${playlist.revision}:${size}`;
      const bytes = cache.get(key) ?? remember(key, await mosaic(playlist, size, traceId));
      return { bytes, mimeType: "image/jpeg" };
    },
  };
}
