// One scan of the library folders: walk, re-read only changed files, keep ids of moved files, record what cannot be
// read (cover art too large to decode included), and group tracks into albums again wherever a folder's tracks changed.
import { randomBytes } from "node:crypto";
import { readdirSync, statSync, type Dirent, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import type { ScanStatus } from "@soundmesh/protocol";
import { groupKeyOf, identifyAlbum, type AlbumIdentity, type GroupMember } from "./album-grouping";
import { oversizeReason } from "./covers";
import { checkFolders, checkRemovals, isUnder } from "./library-safety";
import { defaultReaders, readAll, type ReadOutcome } from "./scan-workers";
import type { FileState, Regrouped, TrackRow, TrackUpsert } from "./sql-store";
import type { CatalogStore } from "./store";
import {
  AUDIO_EXTENSIONS,
  IMAGE_EXTENSIONS,
  albumFolderOf,
  idOf,
  rankFolderCovers,
  finishTags,
  type TrackTags,
} from "./tags";
import { matchTombstones } from "./tombstones";
import { Turns, type TurnOptions } from "./turns";

export interface ScanResult {
  added: number;
  updated: number;
  removed: number;
  errors: number;
  unchanged: number;
  /** The ids of the tracks removed (now tombstones). */
  removedIds: string[];
}

interface FoundFile {
  root: string;
  path: string;
  sizeBytes: number;
  mtimeMs: number;
}

interface ReadFile {
  file: FoundFile;
  tags: TrackTags;
  fingerprint: string;
  albumFolder: string;
}

export interface ScanOptions {
  roots: readonly string[];
  store: CatalogStore;
  nowMs: () => number;
  /** Re-read every file, not only changed ones. */
  full?: boolean;
  /** Go ahead although more than a quarter of a folder's tracks would go, or a folder shows no audio (library-safety.ts). */
  allowMassRemoval?: boolean;
  /** Worker threads reading tags; 0 reads them in this thread. By default none for a few files, else one per core. */
  readers?: number;
  /** Cover art with more pixels is not used (and recorded with the reason); by default none is refused. */
  maxCoverPixels?: number;
  onProgress?: (status: Pick<ScanStatus, "phase" | "done" | "total" | "errors">) => void;
  /** How the comparison of stored and found files is cut into turns (turns.ts); tests make the turns tiny. */
  turns?: TurnOptions;
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

/** A folder's entries, or none when it cannot be read (then `unreadable` hears of it). */
function listFolder(dir: string, unreadable: (dir: string, error: unknown) => void): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    unreadable(dir, error);
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
): Promise<{ files: FoundFile[]; images: Map<string, string[]>; unreadable: Map<string, string> }> {
  const files: FoundFile[] = [];
  const images = new Map<string, string[]>();
  const unreadable = new Map<string, string>();
  const noteUnreadable = (dir: string, error: unknown) =>
    unreadable.set(dir, (error as NodeJS.ErrnoException).code ?? "unknown error");
  const visit = async (root: string, dir: string): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const entry of listFolder(dir, noteUnreadable)) {
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
  return { files, images, unreadable };
}

/** The stored file states by path, read a page at a time with a turn of the event loop between pages. */
async function knownStates(store: CatalogStore, turns: Turns): Promise<Map<string, FileState>> {
  const known = new Map<string, FileState>();
  let after: string | null = null;
  for (;;) {
    const page = await store.fileStates({ after, limit: turns.pageSize });
    await turns.forEach(page, (state) => known.set(state.path, state));
    if (page.length < turns.pageSize) return known;
    after = page[page.length - 1]!.path;
    await turns.giveWayIfDue();
  }
}

const memberOfRead = ({ tags, albumFolder }: ReadFile): GroupMember => ({
  albumFolder,
  album: tags.album,
  artist: tags.artist,
  primaryArtist: tags.credits[0] ?? tags.artist,
  albumArtistTag: tags.albumArtistTag,
  compilationTag: tags.compilationTag,
});

/** A stored track as a group member; its first credit is not stored apart, so its primary artist is its tag split. */
const memberOfRow = (row: TrackRow, store: CatalogStore): GroupMember => ({
  albumFolder: row.album_folder ?? dirname(row.path),
  album: row.album,
  artist: row.artist,
  primaryArtist: store.splitArtists(row.artist)[0] ?? row.artist,
  albumArtistTag: row.album_artist_tag,
  compilationTag: Number(row.compilation_tag) !== 0,
});

/**
 * The album of every track in a group a scan touched: the files it read, with the tracks already stored in the same
 * album folders (minus those read again or gone). Stored tracks whose album changes are returned as regrouped.
 */
async function groupAlbums(
  store: CatalogStore,
  read: readonly ReadFile[],
  touchedFolders: ReadonlySet<string>,
  replacedPaths: ReadonlySet<string>,
): Promise<{ identities: Map<string, AlbumIdentity>; regrouped: Regrouped[] }> {
  const stored = (await store.tracksInFolders([...touchedFolders])).filter(
    (row) => !replacedPaths.has(row.path),
  );
  const groups = new Map<string, GroupMember[]>();
  const add = (member: GroupMember) => {
    const key = groupKeyOf(member);
    const group = groups.get(key);
    if (group) group.push(member);
    else groups.set(key, [member]);
  };
  for (const entry of read) add(memberOfRead(entry));
  for (const row of stored) add(memberOfRow(row, store));
  const identities = new Map([...groups].map(([key, members]) => [key, identifyAlbum(members)]));
  const regrouped = stored.flatMap((row) => {
    const identity = identities.get(groupKeyOf(memberOfRow(row, store)))!;
    const compilation = identity.compilation ? 1 : 0;
    const isSame =
      row.album_id === identity.albumId &&
      row.album_artist === identity.albumArtist &&
      Number(row.compilation) === compilation;
    return isSame
      ? []
      : [{ id: row.id, album_id: identity.albumId, album_artist: identity.albumArtist, compilation }];
  });
  return { identities, regrouped };
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
  checkFolders(options.roots);
  const { files, images, unreadable } = await walk(options.roots);
  // Every loop over all files or all stored states runs in turns: at 100,000 tracks a server's start-up rescan
  // would otherwise hold its thread for a second or more after the walk.
  const turns = new Turns(options.turns);
  const known = await knownStates(store, turns);
  const knownErrors = new Map((await store.errorStates()).map((state) => [state.path, state]));
  const seen = new Set<string>();
  await turns.forEach(files, (file) => seen.add(file.path));
  // Tracks in a folder that could not be listed are kept: not seen is not deleted.
  const unreadableDirs = [...unreadable.keys()];
  const vanished = await turns.filter(
    known.values(),
    (state) => !seen.has(state.path) && !unreadableDirs.some((dir) => isUnder(state.path, dir)),
  );
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
  const changed = await turns.filter(files, (file) => !unchanged(file));
  const errors: ScanError[] = [];
  /** Cover art refused: recorded like errors, but the track itself stays. */
  const artErrors: ScanError[] = [];
  const maxCoverPixels = options.maxCoverPixels ?? Number.POSITIVE_INFINITY;
  // With no cap there is nothing to check (and no image library to load for it).
  const checkPicture = Number.isFinite(maxCoverPixels)
    ? (bytes: Uint8Array) => oversizeReason(bytes, maxCoverPixels)
    : undefined;
  let done = 0;
  let unreadableFiles = 0;
  report("reading", 0, changed.length, 0);

  const outcomes = new Array<ReadOutcome>(changed.length);
  await readAll(changed, {
    readers: options.readers ?? defaultReaders(changed.length),
    withPicture: checkPicture !== undefined,
    onRead: (index, outcome) => {
      outcomes[index] = outcome;
      done += 1;
      if ("error" in outcome) unreadableFiles += 1;
      if (done % 25 === 0 || done === changed.length)
        report("reading", done, changed.length, unreadableFiles);
    },
  });
  const read: ReadFile[] = [];
  for (const [index, outcome] of outcomes.entries()) {
    const file = changed[index]!;
    const failed = (reason: string) =>
      errors.push({
        path: file.path,
        reason,
        size_bytes: file.sizeBytes,
        mtime_ms: file.mtimeMs,
        seen_at: nowMs(),
      });
    if ("error" in outcome) {
      failed(outcome.error);
      continue;
    }
    const tags = await finishTags(outcome.tags, store.splitArtists, checkPicture);
    if (tags.pictureProblem)
      artErrors.push({
        path: file.path,
        reason: `embedded cover art not shown: ${tags.pictureProblem}`,
        size_bytes: file.sizeBytes,
        mtime_ms: file.mtimeMs,
        seen_at: nowMs(),
      });
    read.push({
      file,
      tags,
      fingerprint: outcome.fingerprint,
      albumFolder: albumFolderOf(file.root, file.path),
    });
  }
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
  const previousOf = new Map<string, (typeof vanished)[number]>();
  for (const { file, fingerprint } of read) {
    let previous = known.get(file.path);
    if (!previous) {
      const moved = vanishedByFingerprint.get(fingerprint);
      if (moved && !movedIds.has(moved.id)) {
        previous = moved;
        movedIds.add(moved.id);
      }
    }
    if (previous) previousOf.set(file.path, previous);
  }
  // A file that comes back (at its path, or moved: same fingerprint) takes the id its track had when removed.
  const returning = read.filter(({ file }) => !previousOf.has(file.path));
  const tombstones = matchTombstones(
    returning.map(({ file, fingerprint }) => ({ path: file.path, fingerprint })),
    await store.tombstonesMatching(
      returning.map(({ file }) => file.path),
      returning.map(({ fingerprint }) => fingerprint),
      nowMs(),
    ),
  );
  for (const [dir, code] of unreadable)
    errors.push({
      path: dir,
      reason: `folder cannot be read (${code}); its tracks are kept`,
      size_bytes: 0,
      mtime_ms: 0,
      seen_at: nowMs(),
    });
  const failedPaths = new Set(errors.map((error) => error.path));
  // Every album folder a change touched, where files were read and where stored tracks went or moved away.
  const leaving = [...vanished, ...[...failedPaths].flatMap((path) => known.get(path) ?? [])];
  const touchedFolders = new Set([
    ...read.map((entry) => entry.albumFolder),
    ...[...previousOf.values(), ...leaving].map((state) => state.album_folder ?? dirname(state.path)),
  ]);
  const replacedPaths = new Set([
    ...read.map((entry) => entry.file.path),
    ...leaving.map((state) => state.path),
  ]);
  const { identities, regrouped } = await groupAlbums(store, read, touchedFolders, replacedPaths);
  const upserts: TrackUpsert[] = read.map((entry) => {
    const { file, tags, fingerprint, albumFolder } = entry;
    const previous = previousOf.get(file.path) ?? tombstones.get(file.path);
    const album = identities.get(groupKeyOf(memberOfRead(entry)))!;
    if (previousOf.has(file.path)) updated += 1;
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
      artist_id: idOf(tags.credits[0] ?? tags.artist),
      credits: tags.credits,
      album: tags.album,
      album_id: album.albumId,
      album_artist: album.albumArtist,
      compilation: album.compilation ? 1 : 0,
      album_folder: albumFolder,
      album_artist_tag: tags.albumArtistTag,
      compilation_tag: tags.compilationTag ? 1 : 0,
      track_no: tags.trackNumber,
      disc_no: tags.discNumber,
      year: tags.year,
      original_year: tags.originalYear,
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
  const removedStates = vanished.filter((state) => !movedIds.has(state.id));
  // A known track that now fails to read is removed from the catalog (and reported), not kept stale.
  for (const path of failedPaths) {
    const state = known.get(path);
    if (state) removedStates.push(state);
  }
  const deletions = removedStates.map((state) => state.id);
  const foundAudioPaths: string[] = [];
  await turns.forEach(files, (file) => {
    if (AUDIO_EXTENSIONS.has(extname(file.path).toLowerCase())) foundAudioPaths.push(file.path);
  });
  checkRemovals({
    roots: options.roots,
    knownPaths: [...known.keys()],
    foundAudioPaths,
    removedPaths: removedStates.map((state) => state.path),
    allowMassRemoval: options.allowMassRemoval ?? false,
  });
  const rereadPaths = new Set(changed.map((file) => file.path));
  const imagePaths = new Set([...images].flatMap(([dir, names]) => names.map((name) => join(dir, name))));
  // A refused folder image stays recorded until it is gone or a scan of its folder finds it fine.
  const clearedErrorPaths = [...knownErrors.keys()].filter((path) =>
    imagePaths.has(path)
      ? folderCovers.checked.has(path)
      : !seen.has(path) || (rereadPaths.has(path) && !failedPaths.has(path)),
  );
  // Cleared paths are deleted before errors are written, so an error found again in this scan stays.
  await store.applyScan({
    upserts,
    deletions,
    errors: [...errors, ...artErrors],
    clearedErrorPaths,
    regrouped,
    nowMs: now,
  });
  const removed = deletions.length;
  const errorCount = errors.length + artErrors.length;
  report("idle", done, changed.length, errorCount);
  return {
    added,
    updated,
    removed,
    errors: errorCount,
    unchanged: files.length - changed.length,
    removedIds: deletions,
  };
}
