// Subsonic ids: our ids prefixed by kind ("ar-", "al-", "tr-", "pl-", "rs-" radio station, "sh-" share), so an id
// never names two things, and an id that is not ours is "not found" (70), never passed on to a service.
import { SubsonicError } from "./errors";

export type IdKind = "artist" | "album" | "track" | "playlist" | "station" | "share";
const prefixes: Record<IdKind, string> = {
  artist: "ar-",
  album: "al-",
  track: "tr-",
  playlist: "pl-",
  station: "rs-",
  share: "sh-",
};
const kindOfPrefix = new Map(Object.entries(prefixes).map(([kind, prefix]) => [prefix, kind as IdKind]));
const ourId = /^[A-Za-z0-9_-]{1,64}$/;

export const subsonicId = (kind: IdKind, id: string): string => `${prefixes[kind]}${id}`;
export const artistIdOf = (id: string) => subsonicId("artist", id);
export const albumIdOf = (id: string) => subsonicId("album", id);
export const trackIdOf = (id: string) => subsonicId("track", id);
export const playlistIdOf = (id: string) => subsonicId("playlist", id);

/** The kind and our id of a Subsonic id, or undefined when it is not one of ours. */
export function parseId(value: string): { kind: IdKind; id: string } | undefined {
  const kind = kindOfPrefix.get(value.slice(0, 3));
  const id = value.slice(3);
  return kind !== undefined && ourId.test(id) ? { kind, id } : undefined;
}

/** Our id of a Subsonic id of one of `kinds`; anything else is "not found". */
export function idOfKind<K extends IdKind>(value: string, ...kinds: K[]): { kind: K; id: string } {
  const parsed = parseId(value);
  if (!parsed || !(kinds as IdKind[]).includes(parsed.kind))
    throw new SubsonicError(70, `Not found: ${value.slice(0, 80)}`);
  return parsed as { kind: K; id: string };
}
