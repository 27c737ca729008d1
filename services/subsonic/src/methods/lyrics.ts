// Lyrics (OpenSubsonic songLyrics): from a sidecar .lrc beside the file (synced when it has time tags) and from the
// file's embedded tags (music-metadata: ID3 USLT/SYLT, Vorbis LYRICS, MP4 ©lyr).
import { readFile } from "node:fs/promises";
import { catalogContract, searchContract } from "@soundmesh/protocol";
import { tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { idOfKind } from "../ids";
import type { Body } from "../response";

const MAX_LRC_BYTES = 512 * 1024;

interface Lyrics {
  lang: string;
  synced: boolean;
  lines: Array<{ startMs?: number | undefined; text: string }>;
}

/** An LRC file's lines; `[mm:ss.xx]` tags make it synced (a line with several tags is repeated at each). */
export function parseLrc(text: string): Lyrics {
  const lines: Lyrics["lines"] = [];
  let lang = "xxx";
  let isSynced = false;
  for (const raw of text.split(/\r?\n/)) {
    const tags = [...raw.matchAll(/\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]/g)];
    const language = /^\[la:\s*([a-z]{2,3})\s*\]$/i.exec(raw.trim());
    if (language) lang = language[1]!.toLowerCase();
    if (tags.length === 0) {
      if (!/^\[[a-z]+:.*\]$/i.test(raw.trim()) && raw.trim() !== "") lines.push({ text: raw.trim() });
      continue;
    }
    isSynced = true;
    const words = raw.replace(/\[[^\]]*\]/g, "").trim();
    for (const tag of tags) {
      const fraction = tag[3] ?? "0";
      const ms = Number(fraction.padEnd(3, "0").slice(0, 3));
      lines.push({ startMs: (Number(tag[1]) * 60 + Number(tag[2])) * 1000 + ms, text: words });
    }
  }
  if (isSynced) lines.sort((a, b) => (a.startMs ?? 0) - (b.startMs ?? 0));
  return {
    lang,
    synced: isSynced,
    lines: isSynced ? lines.filter((line) => line.startMs !== undefined) : lines,
  };
}

async function sidecarLyrics(path: string): Promise<Lyrics | undefined> {
  const lrcPath = path.replace(/\.[^./]+$/, ".lrc");
  if (lrcPath === path) return undefined;
  try {
    const bytes = await readFile(lrcPath);
    if (bytes.length > MAX_LRC_BYTES) return undefined;
    return parseLrc(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

async function embeddedLyrics(path: string): Promise<Lyrics[]> {
  try {
    const { parseFile } = await import("music-metadata");
    const metadata = await parseFile(path, { skipCovers: true, duration: false });
    return (metadata.common.lyrics ?? []).flatMap((tag): Lyrics[] => {
      const lang = (tag.language ?? "xxx").toLowerCase() || "xxx";
      if (tag.syncText.length > 0)
        return [
          {
            lang,
            synced: tag.syncText.some((line) => line.timestamp !== undefined),
            lines: tag.syncText.map((line) => ({ startMs: line.timestamp, text: line.text })),
          },
        ];
      if (!tag.text) return [];
      const parsed = parseLrc(tag.text);
      return [{ ...parsed, lang: parsed.lang === "xxx" ? lang : parsed.lang }];
    });
  } catch {
    return [];
  }
}

async function lyricsOfTrack(context: MethodContext, trackId: string): Promise<Lyrics[]> {
  const source = await context.deps.bus.request(
    catalogContract,
    "trackSource",
    { trackId },
    { traceId: context.request.id },
  );
  const found = await Promise.all([sidecarLyrics(source.path), embeddedLyrics(source.path)]);
  return [...(found[0] ? [found[0]] : []), ...found[1]].filter((lyrics) => lyrics.lines.length > 0);
}

function structured(lyrics: Lyrics, artist: string, title: string): Body {
  return {
    displayArtist: artist,
    displayTitle: title,
    lang: lyrics.lang,
    synced: lyrics.synced,
    offset: 0,
    line: lyrics.lines.map((line) => ({ start: lyrics.synced ? line.startMs : undefined, value: line.text })),
  };
}

export const lyricsMethods: MethodTable = {
  async getLyricsBySongId(context) {
    const { id } = idOfKind(context.params.string("id", 100), "track");
    const track = await context.call(catalogContract, "track", { trackId: id });
    const lyrics = await lyricsOfTrack(context, id);
    return {
      lyricsList: { structuredLyrics: lyrics.map((one) => structured(one, track.artist, track.title)) },
    };
  },

  /** Subsonic's older lookup by artist and title: the best matching track's lyrics as plain text. */
  async getLyrics(context) {
    const artist = context.params.optionalString("artist", 500)?.trim() ?? "";
    const title = context.params.optionalString("title", 500)?.trim() ?? "";
    const q = `${artist} ${title}`.trim().slice(0, 200);
    if (q === "") return { lyrics: {} };
    const hits = await context.call(searchContract, "query", { q, kinds: ["track"], limit: 20 });
    const tracks = await tracksByIds(
      context,
      hits.hits.map((hit) => hit.id),
    );
    const match =
      tracks.find(
        (track) =>
          track.title.toLowerCase() === title.toLowerCase() &&
          (artist === "" || track.artist.toLowerCase().includes(artist.toLowerCase())),
      ) ?? tracks[0];
    if (!match) return { lyrics: {} };
    const [first] = await lyricsOfTrack(context, match.id);
    if (!first) return { lyrics: { artist: match.artist, title: match.title } };
    return {
      lyrics: {
        artist: match.artist,
        title: match.title,
        value: first.lines.map((line) => line.text).join("\n"),
      },
    };
  },
};
