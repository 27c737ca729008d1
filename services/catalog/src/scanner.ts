// One scan of the library folders: walk, re-read only changed files, keep ids of moved files, record what cannot be read
// (cover art too large to decode included).
import { randomBytes } from "node:crypto";
import { readdirSync, statSync, type Dirent, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import type { ScanStatus } from "@soundmesh/protocol";
import { oversizeReason } from "./covers";
import type { CatalogStore, TrackRow } from "./sql-store";
import {
  AUDIO_EXTENSIONS,
  IMAGE_EXTENSIONS,
  VARIOUS_ARTISTS,
  fingerprintOf,
  idOf,
  rankFolderCovers,
  readTags,
  type TrackTags,
} from "./tags";

export interface ScanResult {
  added: number;
  updated: number;
  removed: number;
  errors: number;
  unchanged: number;
}

interface FoundFile {
  root: string;
  path: string;
  sizeBytes: number;
  mtimeMs: number;
}

export interface ScanOptions {
  roots: readonly string[];
  store: CatalogStore;
  nowMs: () => number;
  /** Re-read every file, not only changed ones. */
  full?: boolean;
  concurrency?: number;
  /** Cover art with more pixels is not used (and recorded with the reason); by default none is refused. */
  maxCoverPixels?: number;
  onProgress?: (status: Pick<ScanStatus, "phase" | "done" | "total" | "errors">) => void;
}

const IGNORED_NAMES = /^\.|^(thumbs\.db|desktop\.ini)$/i;
const SIDECAR_EXTENSIONS = new Set([
  ".m3u",
  ".m3u8",
  ".cue",
  ".log",
  ".nfo",
  ".pls",
  ".xspf",
  ".sfv",
  ".md5",
  ".accurip",
]);

/** A folder's entries, or none when it cannot be read. */
function listFolder(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * Every regular file under the roots; symbolic links are not followed, so a scan never leaves its roots. A folder is
 * listed and its files stat'ed synchronously, with a turn of the event loop before each folder so a server scanning
 * in the background keeps answering: a no-change rescan is mostly this walk, and one fs.promises call per file (a
 * trip through libuv's thread pool and a promise each) made it ten times slower.
 */
async function walk(
  roots: readonly string[],
): Promise<{ files: FoundFile[]; images: Map<string, string[]> }> {
  const files: FoundFile[] = [];
  const images = new Map<string, string[]>();
  const visit = async (root: string, dir: string): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const entry of listFolder(dir)) {
      if (IGNORED_NAMES.test(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(root, path);
      else if (entry.isFile()) {
        const extension = extname(entry.name).toLowerCase();
        if (IMAGE_EXTENSIONS.has(extension)) {
          images.set(dir, [...(images.get(dir) ?? []), entry.name]);
          continue;
        }
        if (SIDECAR_EXTENSIONS.has(extension)) continue;
        const info = statOrUndefined(path);
        if (info) files.push({ root, path, sizeBytes: info.size, mtimeMs: Math.floor(info.mtimeMs) });
      }
    }
  };
  for (const root of roots) await visit(root, root);
  return { files, images };
}

async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Tracks in one folder with one album title but several artists and no album artist form a compilation. */
function markFolderCompilations(
  read: Array<{ file: FoundFile; tags: TrackTags; albumArtistTagged: boolean }>,
): void {
  const groups = new Map<string, typeof read>();
  for (const entry of read) {
    const key = `${dirname(entry.file.path)}\u0000${entry.tags.album.toLowerCase()}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  for (const group of groups.values()) {
    const artists = new Set(group.map((entry) => entry.tags.artist.toLowerCase()));
    if (artists.size > 1 && group.every((entry) => !entry.albumArtistTagged)) {
      for (const entry of group) {
        entry.tags.compilation = true;
        entry.tags.albumArtist = VARIOUS_ARTISTS;
      }
    }
  }
}

interface ScanError {
  path: string;
  reason: string;
  size_bytes: number;
  mtime_ms: number;
  seen_at: number;
}

/**
 * Each folder's cover image: the best-named one whose header shows it within the pixel cap (only the header is
 * read); a larger one is passed over and reported.
 */
async function chooseFolderCovers(
  dirs: Set<string>,
  images: Map<string, string[]>,
  maxPixels: number,
  refuse: (error: Omit<ScanError, "seen_at">) => void,
): Promise<{ chosen: Map<string, string>; checked: Set<string> }> {
  const chosen = new Map<string, string>();
  const checked = new Set<string>();
  for (const dir of dirs) {
    for (const name of rankFolderCovers(images.get(dir) ?? [])) {
      const path = join(dir, name);
      checked.add(path);
      const tooLarge = await oversizeReason(path, maxPixels);
      if (tooLarge === undefined) {
        chosen.set(dir, path);
        break;
      }
      const info = await stat(path).catch(() => undefined);
      refuse({
        path,
        reason: `folder cover art not shown: ${tooLarge}`,
        size_bytes: info?.size ?? 0,
        mtime_ms: Math.floor(info?.mtimeMs ?? 0),
      });
    }
  }
  return { chosen, checked };
}

export async function scanLibrary(options: ScanOptions): Promise<ScanResult> {
  const { store, nowMs } = options;
  const report = (phase: ScanStatus["phase"], done: number, total: number, errors: number) =>
    options.onProgress?.({ phase, done, total, errors });
  report("walking", 0, 0, 0);
  const { files, images } = await walk(options.roots);
  const known = new Map((await store.fileStates()).map((state) => [state.path, state]));
  const knownErrors = new Map((await store.errorStates()).map((state) => [state.path, state]));
  const seen = new Set(files.map((file) => file.path));
  const vanished = [...known.values()].filter((state) => !seen.has(state.path));
  const vanishedByFingerprint = new Map(vanished.map((state) => [state.fingerprint, state]));

  const unchanged = (file: FoundFile) => {
    const state = known.get(file.path) ?? knownErrors.get(file.path);
    return (
      !options.full &&
      state !== undefined &&
      Number(state.size_bytes) === file.sizeBytes &&
      Number(state.mtime_ms) === file.mtimeMs
    );
  };
  const changed = files.filter((file) => !unchanged(file));
  const errors: ScanError[] = [];
  /** Cover art refused: recorded like errors, but the track itself stays. */
  const artErrors: ScanError[] = [];
  const maxCoverPixels = options.maxCoverPixels ?? Number.POSITIVE_INFINITY;
  const checkPicture = (bytes: Uint8Array) => oversizeReason(bytes, maxCoverPixels);
  let done = 0;
  report("reading", 0, changed.length, 0);

  const read = (
    await mapLimited(changed, options.concurrency ?? 4, async (file) => {
      try {
        if (file.sizeBytes === 0) throw new Error("empty file (0 bytes)");
        if (!AUDIO_EXTENSIONS.has(extname(file.path).toLowerCase())) throw new Error("not an audio file");
        const tags = await readTags(file.root, file.path, checkPicture);
        if (tags.pictureProblem)
          artErrors.push({
            path: file.path,
            reason: `embedded cover art not shown: ${tags.pictureProblem}`,
            size_bytes: file.sizeBytes,
            mtime_ms: file.mtimeMs,
            seen_at: nowMs(),
          });
        const fingerprint = await fingerprintOf(file.path, file.sizeBytes);
        return {
          file,
          tags,
          fingerprint,
          albumArtistTagged: tags.albumArtist !== tags.artist || tags.compilation,
        };
      } catch (error) {
        errors.push({
          path: file.path,
          reason: (error as Error).message.slice(0, 500),
          size_bytes: file.sizeBytes,
          mtime_ms: file.mtimeMs,
          seen_at: nowMs(),
        });
        return undefined;
      } finally {
        done += 1;
        if (done % 25 === 0 || done === changed.length)
          report("reading", done, changed.length, errors.length);
      }
    })
  ).filter((entry) => entry !== undefined);
  markFolderCompilations(read);
  const folderCovers = await chooseFolderCovers(
    new Set(read.map(({ file }) => dirname(file.path))),
    images,
    maxCoverPixels,
    (error) => artErrors.push({ ...error, seen_at: nowMs() }),
  );

  report("saving", done, changed.length, errors.length);
  const now = nowMs();
  let added = 0;
  let updated = 0;
  const movedIds = new Set<string>();
  const upserts: TrackRow[] = read.map(({ file, tags, fingerprint }) => {
    let previous = known.get(file.path);
    if (!previous) {
      const moved = vanishedByFingerprint.get(fingerprint);
      if (moved && !movedIds.has(moved.id)) {
        previous = moved;
        movedIds.add(moved.id);
      }
    }
    if (previous) updated += 1;
    else added += 1;
    const folderCover = folderCovers.chosen.get(dirname(file.path)) ?? null;
    return {
      id: previous?.id ?? randomBytes(12).toString("base64url"),
      path: file.path,
      size_bytes: file.sizeBytes,
      mtime_ms: file.mtimeMs,
      fingerprint,
      title: tags.title,
      artist: tags.artist,
      artist_id: idOf(tags.albumArtist),
      album: tags.album,
      album_id: idOf(tags.albumArtist, tags.album),
      album_artist: tags.albumArtist,
      compilation: tags.compilation ? 1 : 0,
      track_no: tags.trackNumber,
      disc_no: tags.discNumber,
      year: tags.year,
      genre: tags.genre,
      duration_ms: tags.durationMs,
      codec: tags.codec,
      bitrate_kbps: tags.bitrateKbps,
      mb_track_id: tags.musicBrainzTrackId,
      mb_album_id: tags.musicBrainzAlbumId,
      rg_track_db: tags.replayGainTrackDb,
      rg_album_db: tags.replayGainAlbumDb,
      has_picture: tags.hasPicture ? 1 : 0,
      folder_cover: folderCover,
      added_at: previous ? Number(previous.added_at) : now,
      updated_at: now,
    };
  });
  const failedPaths = new Set(errors.map((error) => error.path));
  const deletions = vanished.filter((state) => !movedIds.has(state.id)).map((state) => state.id);
  // A known track that now fails to read is removed from the catalog (and reported), not kept stale.
  for (const path of failedPaths) {
    const state = known.get(path);
    if (state) deletions.push(state.id);
  }
  const rereadPaths = new Set(changed.map((file) => file.path));
  const imagePaths = new Set([...images].flatMap(([dir, names]) => names.map((name) => join(dir, name))));
  // A refused folder image stays recorded until it is gone or a scan of its folder finds it fine.
  const clearedErrorPaths = [...knownErrors.keys()].filter((path) =>
    imagePaths.has(path)
      ? folderCovers.checked.has(path)
      : !seen.has(path) || (rereadPaths.has(path) && !failedPaths.has(path)),
  );
  // Cleared paths are deleted before errors are written, so an error found again in this scan stays.
  await store.applyScan({ upserts, deletions, errors: [...errors, ...artErrors], clearedErrorPaths });
  const removed = deletions.length;
  const errorCount = errors.length + artErrors.length;
  report("idle", done, changed.length, errorCount);
  return { added, updated, removed, errors: errorCount, unchanged: files.length - changed.length };
}
