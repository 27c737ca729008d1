// Reads a file's tags with music-metadata and fills what is missing from file and folder names.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { basename, dirname, extname, relative, sep } from "node:path";
import { parseFile } from "./lazy-music-metadata";

export const AUDIO_EXTENSIONS = new Set([
  ".mp3",
  ".flac",
  ".ogg",
  ".oga",
  ".opus",
  ".m4a",
  ".mp4",
  ".aac",
  ".wav",
  ".aif",
  ".aiff",
  ".wma",
  ".webm",
  ".mka",
  ".ape",
  ".wv",
]);
export const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"]);
const COVER_NAMES = ["cover", "folder", "front", "album", "albumart"];

export const VARIOUS_ARTISTS = "Various Artists";

export interface TrackTags {
  title: string;
  artist: string;
  album: string;
  albumArtist: string;
  compilation: boolean;
  trackNumber: number | null;
  discNumber: number | null;
  year: number | null;
  genre: string | null;
  durationMs: number;
  codec: string | null;
  bitrateKbps: number | null;
  musicBrainzTrackId: string | null;
  musicBrainzAlbumId: string | null;
  replayGainTrackDb: number | null;
  replayGainAlbumDb: number | null;
  hasPicture: boolean;
}

/** A stable id from a name: the same artist or album gets the same id in every scan and on every server. */
export function idOf(...parts: string[]): string {
  const key = parts.map((part) => part.normalize("NFKC").toLowerCase().trim()).join("\u0000");
  return createHash("sha256").update(key).digest("base64url").slice(0, 22);
}

/** Content fingerprint of a file (size and its first and last 64 KiB): a moved file keeps its track id. */
export async function fingerprintOf(path: string, sizeBytes: number): Promise<string> {
  const handle = await open(path, "r");
  try {
    const span = Math.min(65_536, sizeBytes);
    const head = Buffer.alloc(span);
    const tail = Buffer.alloc(span);
    await handle.read(head, 0, span, 0);
    await handle.read(tail, 0, span, Math.max(0, sizeBytes - span));
    return createHash("sha256").update(String(sizeBytes)).update(head).update(tail).digest("hex");
  } finally {
    await handle.close();
  }
}

const titleCase = (text: string) => text.replace(/\b\p{L}/gu, (letter) => letter.toUpperCase());

/** Slug-like names ("audio-volume-change", "stereo") become title-cased words; real names keep their spelling. */
function tidyName(name: string): string {
  const isSlug = name === name.toLowerCase() && !name.includes(" ");
  const words = (isSlug ? name.replace(/[-_]+/g, " ") : name.replace(/_+/g, " ")).replace(/\s+/g, " ").trim();
  return words === words.toLowerCase() ? titleCase(words) : words;
}

/** "01 - Some Song.ogg" → track 1, "Some Song"; "audio-volume-change.oga" → "Audio Volume Change". */
export function titleFromFileName(path: string): {
  title: string;
  trackNumber: number | null;
  discNumber: number | null;
} {
  let name = basename(path, extname(path)).trim();
  let trackNumber: number | null = null;
  let discNumber: number | null = null;
  const numbered = /^(?:(\d)[-.](\d{1,3})|(\d{1,3}))(?:\s*[-._)]\s*|\s+)(.+)$/.exec(name);
  if (numbered) {
    if (numbered[1] && numbered[2]) {
      discNumber = Number(numbered[1]);
      trackNumber = Number(numbered[2]);
    } else trackNumber = Number(numbered[3]);
    name = numbered[4]!;
  }
  return { title: tidyName(name) || basename(path), trackNumber, discNumber };
}

/** Folder names give album (parent) and artist (grandparent, or the library folder itself) when the tags do not. */
export function namesFromFolders(
  root: string,
  path: string,
): { album: string | null; artist: string | null } {
  const parts = [
    basename(root),
    ...relative(root, dirname(path))
      .split(sep)
      .filter((part) => part && part !== "."),
  ];
  const album = parts.length >= 2 ? parts[parts.length - 1]! : null;
  const artist = parts.length >= 2 ? parts[parts.length - 2]! : null;
  return { album: album && tidyName(album), artist: artist && tidyName(artist) };
}

const firstNumber = (value: number | null | undefined) =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : null;

/**
 * Reads a file's tags. `checkPicture` looks at the embedded picture (the one shown as the album's cover) and says why
 * it cannot be used, if it cannot: the track then has no picture, and the reason comes back as `pictureProblem`.
 */
export async function readTags(
  root: string,
  path: string,
  checkPicture: (bytes: Uint8Array) => Promise<string | undefined> = () => Promise.resolve(undefined),
): Promise<TrackTags & { pictureProblem?: string }> {
  let metadata = await parseFile(path, { duration: false, skipCovers: false });
  const pictures = metadata.common.picture ?? [];
  const picture = pictures.find((p) => /front/i.test(p.type ?? "")) ?? pictures[0];
  const pictureProblem = picture ? await checkPicture(picture.data) : undefined;
  const hasPicture = picture !== undefined && pictureProblem === undefined;
  // Without a length header the duration needs a full pass; a file with no audio frames at all is corrupt.
  if (!metadata.format.duration) metadata = await parseFile(path, { duration: true, skipCovers: true });
  const { common, format } = metadata;
  if (!format.container && !format.codec) throw new Error("not an audio file");
  if (!format.duration)
    throw new Error(`no decodable audio (${format.container ?? "unknown"}: corrupt or truncated)`);
  const fromName = titleFromFileName(path);
  const fromFolders = namesFromFolders(root, path);
  const artist =
    common.artist?.trim() || common.albumartist?.trim() || fromFolders.artist || "Unknown Artist";
  const albumArtistTag = common.albumartist?.trim();
  const compilation =
    common.compilation === true || albumArtistTag?.toLowerCase() === VARIOUS_ARTISTS.toLowerCase();
  return {
    title: common.title?.trim() || fromName.title,
    artist,
    album: common.album?.trim() || fromFolders.album || "Unknown Album",
    albumArtist: compilation ? VARIOUS_ARTISTS : albumArtistTag || artist,
    compilation,
    trackNumber: firstNumber(common.track.no) ?? fromName.trackNumber,
    discNumber: firstNumber(common.disk.no) ?? fromName.discNumber,
    year: firstNumber(common.year),
    genre: common.genre?.[0]?.trim() || null,
    durationMs: Math.round((format.duration ?? 0) * 1000),
    codec: format.codec ?? format.container ?? null,
    bitrateKbps: format.bitrate ? Math.round(format.bitrate / 1000) : null,
    musicBrainzTrackId: common.musicbrainz_recordingid ?? null,
    musicBrainzAlbumId: common.musicbrainz_albumid ?? null,
    replayGainTrackDb: common.replaygain_track_gain?.dB ?? null,
    replayGainAlbumDb: common.replaygain_album_gain?.dB ?? null,
    hasPicture,
    ...(pictureProblem === undefined ? {} : { pictureProblem }),
  };
}

/** The folder images that may serve as an album cover, best first: cover, folder, front, album, albumart. */
export function rankFolderCovers(imageNames: string[]): string[] {
  return imageNames
    .map((name) => ({ name, rank: COVER_NAMES.indexOf(basename(name, extname(name)).toLowerCase()) }))
    .filter((entry) => entry.rank >= 0)
    .sort((a, b) => a.rank - b.rank)
    .map((entry) => entry.name);
}
