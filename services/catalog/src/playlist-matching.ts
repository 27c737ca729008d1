// Matches the entries of an imported playlist file to library tracks without touching the filesystem: an entry's
// path is compared, as text, with each track's path relative to its library folder; then artist, title, duration.
import { relative, sep } from "node:path";
import type { PlaylistFileEntry } from "@soundmesh/protocol";
import type { TrackRow } from "./sql-store";
import type { CatalogStore } from "./store";

export interface EntryMatch {
  trackId: string | null;
  by: "path" | "tags" | null;
}

/** Durations within this much count as the same recording. */
const durationToleranceMs = 3_000;

/** A track's path below the library folder holding it, with forward slashes (folder names stay private). */
export function relativePathOf(path: string, roots: readonly string[]): string {
  const root = roots.find((candidate) =>
    path.startsWith(candidate.endsWith(sep) ? candidate : candidate + sep),
  );
  const inside = root === undefined ? path.split(sep).slice(-3).join(sep) : relative(root, path);
  return inside.split(sep).join("/");
}

/** An entry's path as comparable text: file:// URLs decoded, backslashes turned, "./" and drive letters dropped. */
function normalisedPath(path: string): string {
  let text = path.trim();
  if (/^file:\/\//i.test(text)) {
    text = text.replace(/^file:\/\/(localhost)?/i, "");
    try {
      text = decodeURIComponent(text);
    } catch {
      // A malformed escape: compare the text as it is.
    }
  }
  return text
    .replaceAll("\\", "/")
    .replace(/^[A-Za-z]:/, "")
    .split("/")
    .filter((part) => part !== "" && part !== ".")
    .join("/")
    .toLowerCase();
}

const endsWithPath = (longer: string, shorter: string) =>
  longer === shorter || longer.endsWith(`/${shorter}`);

function byPath(
  entryPath: string,
  candidates: ReadonlyArray<{ id: string; relativePath: string }>,
): string | null {
  const path = normalisedPath(entryPath);
  // The entry names a file below a library folder (absolute or relative paths elsewhere end the same way) …
  const inside = candidates.filter((c) => endsWithPath(path, c.relativePath));
  if (inside.length > 0)
    return inside.reduce((a, b) => (b.relativePath.length > a.relativePath.length ? b : a)).id;
  // … or a shorter path relative to the playlist file's own folder: accepted when only one track fits.
  const shorter = candidates.filter((c) => endsWithPath(c.relativePath, path));
  return shorter.length === 1 ? shorter[0]!.id : null;
}

function byTags(entry: PlaylistFileEntry, candidates: readonly TrackRow[]): string | null {
  const artist = entry.artist?.trim().toLowerCase();
  const fits = candidates.filter(
    (track) =>
      (artist === undefined ||
        artist === "" ||
        track.artist.toLowerCase() === artist ||
        track.album_artist.toLowerCase() === artist) &&
      (entry.durationMs === null ||
        Math.abs(Number(track.duration_ms) - entry.durationMs) <= durationToleranceMs),
  );
  if (fits.length === 0) return null;
  const distance = (track: TrackRow) =>
    entry.durationMs === null ? 0 : Math.abs(Number(track.duration_ms) - entry.durationMs);
  return fits.reduce((a, b) => (distance(b) < distance(a) ? b : a)).id;
}

export async function matchEntries(
  store: CatalogStore,
  roots: readonly string[],
  entries: readonly PlaylistFileEntry[],
): Promise<EntryMatch[]> {
  const byName = new Map<string, Array<{ id: string; relativePath: string }>>();
  const names = entries.flatMap((entry) => {
    if (entry.path === null) return [];
    const path = normalisedPath(entry.path);
    return [path.slice(path.lastIndexOf("/") + 1)];
  });
  // Only the tracks with one of the entries' file names are read (an index holds them by name).
  for (const file of await store.tracksByFileNames(names)) {
    const relativePath = relativePathOf(file.path, roots).toLowerCase();
    const name = relativePath.slice(relativePath.lastIndexOf("/") + 1);
    byName.set(name, [...(byName.get(name) ?? []), { id: file.id, relativePath }]);
  }
  const matches: EntryMatch[] = entries.map((entry) => {
    if (entry.path === null) return { trackId: null, by: null };
    const path = normalisedPath(entry.path);
    const trackId = byPath(entry.path, byName.get(path.slice(path.lastIndexOf("/") + 1)) ?? []);
    return trackId === null ? { trackId: null, by: null } : { trackId, by: "path" };
  });
  const titles = entries.flatMap((entry, i) =>
    matches[i]!.trackId === null && entry.title ? [entry.title.trim()] : [],
  );
  if (titles.length === 0) return matches;
  const byTitle = new Map<string, TrackRow[]>();
  for (const track of await store.tracksByTitles(titles)) {
    const key = track.title.toLowerCase();
    byTitle.set(key, [...(byTitle.get(key) ?? []), track]);
  }
  return matches.map((match, i) => {
    const entry = entries[i]!;
    if (match.trackId !== null || !entry.title) return match;
    const trackId = byTags(entry, byTitle.get(entry.title.trim().toLowerCase()) ?? []);
    return trackId === null ? match : { trackId, by: "tags" };
  });
}
