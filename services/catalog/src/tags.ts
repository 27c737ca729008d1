// Reads a file's tags with music-metadata, from the ends of the file the scan has read where they hold what it asks
// for (never the whole file, where a header or the last Ogg page gives the duration), and fills what is missing from
// the file's name and the folders below the library folder.
import { createHash } from "node:crypto";
import { basename, dirname, extname, relative, sep } from "node:path";
import type { IAudioMetadata } from "music-metadata";
import type { SplitArtists } from "./artist-credits";
import { oggDurationSeconds, type FileEnds } from "./file-ends";
import { parseFile, parseFileEnds } from "./lazy-music-metadata";

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
export const UNKNOWN_ARTIST = "Unknown Artist";
export const UNKNOWN_ALBUM = "Unknown Album";

/** What one file's tags say (or its names, untagged), before it is grouped with the other tracks of its album. */
export interface TrackTags {
  title: string;
  /** The artist as the tag spells it ("A feat. B"), for display. */
  artist: string;
  /** Every artist the track credits, in order: the multi-valued ARTISTS tag, or the artist tag split. */
  credits: string[];
  album: string;
  albumArtistTag: string | null;
  compilationTag: boolean;
  trackNumber: number | null;
  discNumber: number | null;
  year: number | null;
  /** The original release year (ORIGINALDATE, TDOR), which albums prefer. */
  originalYear: number | null;
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

/** A folder holding one disc of an album: "CD1", "CD 2", "Disc 2", "disk_3", "Disc 1 - The Early Years". */
const DISC_FOLDER = /^(?:cd|disc|disk)[\s._-]*(\d{1,2})(?:\s*[-–:.]\s*.*)?$/i;

export function discOfFolder(name: string): number | null {
  const match = DISC_FOLDER.exec(name.trim());
  return match ? Number(match[1]) : null;
}

/** The folders between a library folder and a file, without a last disc folder (and which disc it names). */
function foldersBelow(root: string, path: string): { parts: string[]; disc: number | null } {
  const parts = relative(root, dirname(path))
    .split(sep)
    .filter((part) => part && part !== ".");
  const disc = parts.length > 0 ? discOfFolder(parts[parts.length - 1]!) : null;
  return { parts: disc === null ? parts : parts.slice(0, -1), disc };
}

/** The folder an album's files share: the file's own, or above it when that is a disc folder (never above the root). */
export function albumFolderOf(root: string, path: string): string {
  const folder = dirname(path);
  return folder !== root && discOfFolder(basename(folder)) !== null ? dirname(folder) : folder;
}

/**
 * Folder names below the library folder give album (the nearest, disc folders aside) and artist (the one above it)
 * when the tags do not: the library folder's own name ("Music") names nothing.
 */
export function namesFromFolders(
  root: string,
  path: string,
): { album: string | null; artist: string | null; disc: number | null } {
  const { parts, disc } = foldersBelow(root, path);
  const album = parts.at(-1) ?? null;
  const artist = parts.at(-2) ?? null;
  return { album: album && tidyName(album), artist: artist && tidyName(artist), disc };
}

const firstNumber = (value: number | null | undefined) =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : null;

const yearOf = (value: string | number | undefined) => {
  const year = typeof value === "number" ? value : Number.parseInt(value?.slice(0, 4) ?? "", 10);
  return firstNumber(year);
};

/** Values of native tags by id, whatever the tag format (ID3's TXXX frames are not all in the common tags). */
function nativeValues(metadata: IAudioMetadata, ids: readonly string[]): string[] {
  return Object.values(metadata.native)
    .flat()
    .filter((tag) => ids.includes(tag.id.toUpperCase()))
    .flatMap((tag) => (Array.isArray(tag.value) ? (tag.value as unknown[]) : [tag.value]))
    .filter((value): value is string => typeof value === "string")
    .map((value) => value.trim())
    .filter(Boolean);
}

const ARTISTS_TAGS = ["ARTISTS", "TXXX:ARTISTS", "----:COM.APPLE.ITUNES:ARTISTS"];
const ORIGINAL_DATE_TAGS = ["TXXX:ORIGINALDATE", "TXXX:ORIGINALYEAR", "----:COM.APPLE.ITUNES:ORIGINALDATE"];

const distinct = (names: readonly string[]) => [
  ...new Map(names.map((name) => [name.normalize("NFKC").toLowerCase(), name])).values(),
];

/**
 * Every credited artist: several values of the ARTISTS tag (or of the artist tag itself) are taken as they are; one
 * value is split by the configured separators.
 */
function creditsOf(sources: CreditSources, artist: string, splitArtists: SplitArtists): string[] {
  const { tagged, artistValues } = sources;
  if (tagged.length > 1) return tagged;
  if (tagged.length === 0 && artistValues.length > 1) return artistValues;
  const credits = splitArtists(tagged[0] ?? artist);
  return credits.length > 0 ? credits : [artist];
}

/** The values of a file's ARTISTS tag and of its artist tag, from which its credits are made (creditsOf). */
export interface CreditSources {
  tagged: string[];
  artistValues: string[];
}

const creditSourcesOf = (metadata: IAudioMetadata): CreditSources => ({
  tagged: distinct(nativeValues(metadata, ARTISTS_TAGS)),
  artistValues: distinct((metadata.common.artists ?? []).map((name) => name.trim()).filter(Boolean)),
});

/**
 * The duration without reading the whole file: music-metadata finds it in the headers of most formats (FLAC's
 * STREAMINFO, MP3's Xing/VBRI or CBR frames, MP4's mvhd, WAV); Ogg's is the granule position of the last page.
 * Only a file that shows neither is read whole, and one with no audio frames at all is corrupt.
 */
async function durationSecondsOf(path: string, metadata: IAudioMetadata, ends: FileEnds): Promise<number> {
  const { format } = metadata;
  const fromHeaders =
    format.duration ?? (format.container === "Ogg" ? oggDurationSeconds(ends, format.sampleRate) : undefined);
  if (fromHeaders) return fromHeaders;
  const whole = await parseFile(path, { duration: true, skipCovers: true });
  if (!whole.format.duration)
    throw new Error(`no decodable audio (${format.container ?? "unknown"}: corrupt or truncated)`);
  return whole.format.duration;
}

/**
 * What a file's tags say before the library's settings apply (how artist tags split, the cover pixel cap): plain data,
 * so a worker thread can read it (scan-workers.ts). `picture` is the embedded picture shown as the album's cover.
 */
export interface FileTags extends Omit<TrackTags, "credits"> {
  creditSources: CreditSources;
  picture?: Uint8Array;
}

/** Reads a file's tags and duration from its ends (and from between them only where music-metadata must). */
export async function readFileTags(root: string, path: string, ends: FileEnds): Promise<FileTags> {
  const metadata = await parseFileEnds(path, ends, { duration: false, skipCovers: false });
  const pictures = metadata.common.picture ?? [];
  const picture = pictures.find((p) => /front/i.test(p.type ?? "")) ?? pictures[0];
  const { common, format } = metadata;
  if (!format.container && !format.codec) throw new Error("not an audio file");
  const durationSeconds = await durationSecondsOf(path, metadata, ends);
  const fromName = titleFromFileName(path);
  const fromFolders = namesFromFolders(root, path);
  const albumArtistTag = common.albumartist?.trim() || null;
  return {
    title: common.title?.trim() || fromName.title,
    artist: common.artist?.trim() || albumArtistTag || fromFolders.artist || UNKNOWN_ARTIST,
    creditSources: creditSourcesOf(metadata),
    album: common.album?.trim() || fromFolders.album || UNKNOWN_ALBUM,
    albumArtistTag,
    compilationTag: common.compilation === true,
    trackNumber: firstNumber(common.track.no) ?? fromName.trackNumber,
    discNumber: firstNumber(common.disk.no) ?? fromName.discNumber ?? fromFolders.disc,
    year: firstNumber(common.year),
    originalYear:
      yearOf(common.originalyear) ??
      yearOf(common.originaldate) ??
      yearOf(nativeValues(metadata, ORIGINAL_DATE_TAGS)[0]),
    genre: common.genre?.[0]?.trim() || null,
    durationMs: Math.round(durationSeconds * 1000),
    codec: format.codec ?? format.container ?? null,
    bitrateKbps: format.bitrate ? Math.round(format.bitrate / 1000) : null,
    musicBrainzTrackId: common.musicbrainz_recordingid ?? null,
    musicBrainzAlbumId: common.musicbrainz_albumid ?? null,
    replayGainTrackDb: common.replaygain_track_gain?.dB ?? null,
    replayGainAlbumDb: common.replaygain_album_gain?.dB ?? null,
    hasPicture: picture !== undefined,
    ...(picture ? { picture: picture.data } : {}),
  };
}

/**
 * A file's tags with the library's settings applied: its credits split, and its embedded picture checked by
 * `checkPicture`, which says why it cannot be used, if it cannot: the track then has no picture, and the reason comes
 * back as `pictureProblem`.
 */
export async function finishTags(
  read: FileTags,
  splitArtists: SplitArtists,
  checkPicture?: (bytes: Uint8Array) => Promise<string | undefined>,
): Promise<TrackTags & { pictureProblem?: string }> {
  const { creditSources, picture, ...tags } = read;
  const pictureProblem = picture && checkPicture ? await checkPicture(picture) : undefined;
  return {
    ...tags,
    credits: creditsOf(creditSources, tags.artist, splitArtists),
    hasPicture: tags.hasPicture && pictureProblem === undefined,
    ...(pictureProblem === undefined ? {} : { pictureProblem }),
  };
}

/** Reads a file's tags (readFileTags) and applies the library's settings (finishTags). */
export async function readTags(
  root: string,
  path: string,
  ends: FileEnds,
  splitArtists: SplitArtists,
  checkPicture?: (bytes: Uint8Array) => Promise<string | undefined>,
): Promise<TrackTags & { pictureProblem?: string }> {
  return finishTags(await readFileTags(root, path, ends), splitArtists, checkPicture);
}

/** The folder images that may serve as an album cover, best first: cover, folder, front, album, albumart. */
export function rankFolderCovers(imageNames: string[]): string[] {
  return imageNames
    .map((name) => ({ name, rank: COVER_NAMES.indexOf(basename(name, extname(name)).toLowerCase()) }))
    .filter((entry) => entry.rank >= 0)
    .sort((a, b) => a.rank - b.rank)
    .map((entry) => entry.name);
}
