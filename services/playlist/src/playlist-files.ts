// M3U/M3U8 and XSPF: parses the TEXT of an imported file (never a path on this machine) into entries the catalog
// matches to tracks, and writes playlists back out with paths relative to the library folders.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import {
  AppError,
  MAX_PLAYLIST_ITEMS,
  catalogContract,
  playlistFileEntry,
  type ImportReport,
  type PlaylistFileEntry,
  type PlaylistItem,
} from "@soundmesh/protocol";
import type { PlaylistStore, StoredPlaylist } from "./store";

// Keeps each bus message well under NATS's default 1 MB payload limit in cluster mode.
const chunkSize = 1_000;

/** `#EXTINF:<seconds>[ attributes],<artist> - <title>` describes the path on the next line. */
export function parseM3u(text: string): PlaylistFileEntry[] {
  const entries: PlaylistFileEntry[] = [];
  let described: Omit<PlaylistFileEntry, "path"> | undefined;
  for (const rawLine of text.replace(/^\uFEFF/, "").split(/\r?\n|\r/)) {
    const line = rawLine.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      // Bounded repetitions: a hostile line cannot make the match backtrack quadratically.
      const info = /^#EXTINF:\s{0,10}(-?\d{1,10}(?:\.\d{1,6})?)[^,]{0,2000},(.*)$/i.exec(line);
      if (info) {
        const seconds = Number(info[1]);
        const label = info[2]!.trim();
        const dash = label.indexOf(" - ");
        described = {
          durationMs: seconds > 0 ? Math.round(seconds * 1000) : null,
          artist: dash > 0 ? label.slice(0, dash).trim() : null,
          title: (dash > 0 ? label.slice(dash + 3) : label).trim() || null,
        };
      }
      continue;
    }
    entries.push({ path: line, ...(described ?? { artist: null, title: null, durationMs: null }) });
    described = undefined;
  }
  return entries;
}

const xmlEntities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeXml(text: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*)\]\]>\s*$/.exec(text);
  if (cdata) return cdata[1]!;
  return text
    .replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{1,10});/gi, (whole, name: string) => {
      const lower = name.toLowerCase();
      const code = lower.startsWith("#x")
        ? parseInt(lower.slice(2), 16)
        : lower.startsWith("#")
          ? parseInt(lower.slice(1), 10)
          : undefined;
      if (code === undefined) return xmlEntities[lower] ?? whole;
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    })
    .trim();
}

function encodeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/**
 * The inner text of each `name` element (any namespace prefix), in order. It only ever scans forward and bounds
 * every repetition, so a hostile file (openings without closings, endless attributes) costs linear time.
 */
function elements(text: string, name: string, limit = Number.POSITIVE_INFINITY): string[] {
  const open = new RegExp(`<(?:\\w{1,50}:)?${name}(?:\\s[^>]{0,1000})?>`, "gi");
  const close = new RegExp(`</(?:\\w{1,50}:)?${name}\\s{0,10}>`, "gi");
  const found: string[] = [];
  for (let start = open.exec(text); start !== null && found.length < limit; start = open.exec(text)) {
    close.lastIndex = open.lastIndex;
    const end = close.exec(text);
    if (end === null) break;
    found.push(text.slice(open.lastIndex, end.index));
    open.lastIndex = close.lastIndex;
  }
  return found;
}

/** The first child element's text of an XSPF <track>, or null. */
function field(track: string, name: string): string | null {
  const [inner] = elements(track, name, 1);
  if (inner === undefined) return null;
  const value = decodeXml(inner);
  return value === "" ? null : value;
}

/** XSPF locations are URIs: relative ones are percent-decoded here; file:// URLs are decoded when matched. */
function locationOf(location: string | null): string | null {
  if (location === null || /^[a-z][a-z0-9+.-]*:/i.test(location)) return location;
  try {
    return decodeURIComponent(location);
  } catch {
    return location;
  }
}

export function parseXspf(text: string): PlaylistFileEntry[] {
  if (!/<(?:\w{1,50}:)?playlist[\s>]/i.test(text)) throw new AppError("BAD_REQUEST", "Not an XSPF playlist");
  return elements(text, "track").map((track) => {
    const duration = Math.round(Number(field(track, "duration")));
    return {
      path: locationOf(field(track, "location")),
      artist: field(track, "creator"),
      title: field(track, "title"),
      // A duration is only a hint for matching: an absurd one is dropped rather than failing the entry.
      durationMs: Number.isSafeInteger(duration) && duration > 0 ? duration : null,
    };
  });
}

type Unmatched = ImportReport["unmatched"][number];

/** How much of an entry's path, artist and title a report shows: enough to recognise it, never kilobytes. */
const REPORTED_CHARS = 200;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const controlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const controlCharactersEverywhere = new RegExp(controlCharacters.source, "g");
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function reported(text: string | null): string | null {
  if (text === null) return null;
  const shown = text.replace(controlCharactersEverywhere, "\uFFFD");
  return shown.length > REPORTED_CHARS ? `${shown.slice(0, REPORTED_CHARS)}…` : shown;
}

/**
 * Why an entry cannot be matched at all, or null when it can: longer than a path, artist or title can be
 * ("too-long"), or text no file name or tag holds — control characters, broken UTF-16 ("unreadable").
 */
function unreadableReason(entry: PlaylistFileEntry): "too-long" | "unreadable" | null {
  const checked = playlistFileEntry.safeParse(entry);
  if (!checked.success)
    return checked.error.issues.some((issue) => issue.code === "too_big") ? "too-long" : "unreadable";
  const texts = [entry.path, entry.artist, entry.title].filter((text) => text !== null);
  return texts.some((text) => controlCharacters.test(text) || loneSurrogate.test(text)) ? "unreadable" : null;
}

const unmatchedOf = (entry: PlaylistFileEntry, index: number, reason: Unmatched["reason"]): Unmatched => ({
  entry: index + 1,
  reason,
  path: reported(entry.path),
  artist: reported(entry.artist),
  title: reported(entry.title),
});

interface TrackEntry {
  trackId: string;
  relativePath: string;
  title: string;
  artist: string;
  album: string;
  durationMs: number;
}

function renderM3u(name: string, tracks: readonly TrackEntry[]): string {
  const lines = ["#EXTM3U", `#PLAYLIST:${name.replace(/[\r\n]+/g, " ")}`];
  for (const track of tracks) {
    const label = `${track.artist} - ${track.title}`.replace(/[\r\n]+/g, " ");
    lines.push(`#EXTINF:${Math.round(track.durationMs / 1000)},${label}`, track.relativePath);
  }
  return `${lines.join("\n")}\n`;
}

function renderXspf(playlist: StoredPlaylist, tracks: readonly TrackEntry[]): string {
  const items = tracks.map(
    (track) =>
      `    <track>\n` +
      `      <location>${encodeXml(track.relativePath.split("/").map(encodeURIComponent).join("/"))}</location>\n` +
      `      <identifier>soundmesh:track:${encodeXml(track.trackId)}</identifier>\n` +
      `      <title>${encodeXml(track.title)}</title>\n` +
      `      <creator>${encodeXml(track.artist)}</creator>\n` +
      `      <album>${encodeXml(track.album)}</album>\n` +
      `      <duration>${track.durationMs}</duration>\n` +
      `    </track>\n`,
  );
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<playlist version="1" xmlns="http://xspf.org/ns/0/">\n` +
    `  <title>${encodeXml(playlist.name)}</title>\n` +
    (playlist.description ? `  <annotation>${encodeXml(playlist.description)}</annotation>\n` : "") +
    `  <trackList>\n${items.join("")}  </trackList>\n</playlist>\n`
  );
}

function fileNameOf(name: string, extension: string): string {
  const safe = name.replace(/[^\p{L}\p{N} ._-]+/gu, "_").trim() || "playlist";
  return `${safe.slice(0, 100)}.${extension}`;
}

export function createPlaylistFiles({ bus }: { bus: ServiceBus; store: PlaylistStore; logger: Logger }) {
  return {
    /** Parses the file's text and matches its entries; unmatched entries are reported, never guessed. */
    async match(
      format: "m3u" | "xspf",
      text: string,
      traceId: string,
    ): Promise<{ trackIds: string[]; report: ImportReport }> {
      const entries = format === "m3u" ? parseM3u(text) : parseXspf(text);
      if (entries.length > MAX_PLAYLIST_ITEMS)
        throw new AppError("BAD_REQUEST", `A playlist holds at most ${MAX_PLAYLIST_ITEMS} items`);
      // An entry that cannot be read is skipped and reported; it never fails the others.
      const skipped = new Map<number, Unmatched>();
      const readable: number[] = [];
      entries.forEach((entry, i) => {
        const reason = unreadableReason(entry);
        if (reason === null) readable.push(i);
        else skipped.set(i, unmatchedOf(entry, i, reason));
      });
      const matches = new Map<number, { trackId: string | null; by: "path" | "tags" | null }>();
      for (let i = 0; i < readable.length; i += chunkSize) {
        const part = readable.slice(i, i + chunkSize);
        const answer = await bus.request(
          catalogContract,
          "matchEntries",
          { entries: part.map((index) => entries[index]!) },
          { traceId, timeoutMs: 30_000 },
        );
        answer.matches.forEach((match, j) => matches.set(part[j]!, match));
      }
      const report: ImportReport = {
        entries: entries.length,
        matched: 0,
        byPath: 0,
        byTags: 0,
        unmatched: [],
      };
      const trackIds: string[] = [];
      entries.forEach((entry, i) => {
        const match = matches.get(i);
        if (!match || match.trackId === null) {
          report.unmatched.push(skipped.get(i) ?? unmatchedOf(entry, i, "not-found"));
          return;
        }
        trackIds.push(match.trackId);
        report.matched += 1;
        if (match.by === "path") report.byPath += 1;
        else report.byTags += 1;
      });
      return { trackIds, report };
    },

    async render(
      playlist: StoredPlaylist,
      items: readonly PlaylistItem[],
      format: "m3u8" | "xspf",
      traceId: string,
    ): Promise<{ fileName: string; mimeType: string; text: string }> {
      const tracks: TrackEntry[] = [];
      for (let i = 0; i < items.length; i += chunkSize) {
        const trackIds = items.slice(i, i + chunkSize).map((item) => item.trackId);
        const found = await bus.request(
          catalogContract,
          "trackEntries",
          { trackIds },
          { traceId, timeoutMs: 30_000 },
        );
        const byId = new Map(found.map((track) => [track.trackId, track]));
        // Tracks that left the library are left out of the file.
        for (const trackId of trackIds) {
          const track = byId.get(trackId);
          if (track) tracks.push(track);
        }
      }
      return format === "m3u8"
        ? {
            fileName: fileNameOf(playlist.name, "m3u8"),
            mimeType: "audio/x-mpegurl",
            text: renderM3u(playlist.name, tracks),
          }
        : {
            fileName: fileNameOf(playlist.name, "xspf"),
            mimeType: "application/xspf+xml",
            text: renderXspf(playlist, tracks),
          };
    },
  };
}
