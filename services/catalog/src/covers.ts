// Album art: the embedded picture first, then a folder image; resized with sharp to a square and cached on disk.
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseFile } from "music-metadata";
import sharp from "sharp";
import { AppError } from "@soundmesh/protocol";
import type { TrackRow } from "./sql-store";
import { idOf } from "./tags";

async function originalArt(
  tracks: TrackRow[],
): Promise<{ bytes: Uint8Array; sourceKey: string } | undefined> {
  for (const track of tracks.filter((t) => t.has_picture)) {
    try {
      const { common } = await parseFile(track.path, { duration: false, skipCovers: false });
      const picture = common.picture?.find((p) => /front/i.test(p.type ?? "")) ?? common.picture?.[0];
      if (picture) return { bytes: picture.data, sourceKey: idOf(track.path, String(track.mtime_ms)) };
    } catch {
      // An unreadable picture is not an error for the album: try the next track or the folder image.
    }
  }
  for (const track of tracks) {
    if (!track.folder_cover) continue;
    try {
      const info = await stat(track.folder_cover);
      return {
        bytes: await readFile(track.folder_cover),
        sourceKey: idOf(track.folder_cover, String(info.mtimeMs)),
      };
    } catch {
      continue;
    }
  }
  return undefined;
}

export async function albumCover(
  cacheDir: string,
  albumId: string,
  tracks: TrackRow[],
  size: number,
): Promise<{ bytes: Uint8Array; mimeType: string }> {
  const art = await originalArt(tracks);
  if (!art) throw new AppError("NOT_FOUND", "This album has no cover art");
  const file = join(cacheDir, `${albumId}-${size}-${art.sourceKey}.jpg`);
  try {
    return { bytes: await readFile(file), mimeType: "image/jpeg" };
  } catch {
    // Not cached yet.
  }
  let bytes: Buffer;
  try {
    bytes = await sharp(art.bytes)
      .resize(size, size, { fit: "cover" })
      .jpeg({ quality: 85, mozjpeg: true })
      .toBuffer();
  } catch (error) {
    throw new AppError("NOT_FOUND", "The album's cover art cannot be decoded", { cause: error });
  }
  await mkdir(cacheDir, { recursive: true });
  await writeFile(`${file}.tmp`, bytes);
  await rename(`${file}.tmp`, file);
  return { bytes, mimeType: "image/jpeg" };
}
