// Which tracks form one album, and who its album artist is: tracks with one album title in one folder (or in its
// CD1/Disc 2 subfolders) are one album, whether or not each carries the album-artist tag.
import { UNKNOWN_ARTIST, VARIOUS_ARTISTS, idOf } from "./tags";

/** What grouping needs of a track: where its album's files are, and what its tags said. */
export interface GroupMember {
  albumFolder: string;
  album: string;
  artist: string;
  /** The first credited artist, which decides "one track artist" ("A" and "A feat. B" are both A's). */
  primaryArtist: string;
  albumArtistTag: string | null;
  compilationTag: boolean;
}

export interface AlbumIdentity {
  albumId: string;
  albumArtist: string;
  compilation: boolean;
}

const comparable = (text: string) => text.normalize("NFKC").toLowerCase().trim();

/** The key of a track's album group: its album folder and its album title (compared without case). */
export function groupKeyOf(member: Pick<GroupMember, "albumFolder" | "album">): string {
  return `${member.albumFolder}\u0000${comparable(member.album)}`;
}

/** The value most members give (the first given among equals), or undefined when none gives one. */
function mostCommon(values: ReadonlyArray<string | null>): string | undefined {
  const counts = new Map<string, { value: string; count: number }>();
  for (const value of values) {
    if (value === null) continue;
    const entry = counts.get(comparable(value)) ?? { value, count: 0 };
    entry.count += 1;
    counts.set(comparable(value), entry);
  }
  let best: { value: string; count: number } | undefined;
  for (const entry of counts.values()) if (!best || entry.count > best.count) best = entry;
  return best?.value;
}

/**
 * The album of one group: its album artist is the album-artist tag where any track has one (the most common, if they
 * differ), else Various Artists for a tagged compilation, else the one artist all tracks credit first, else Various
 * Artists. The id is the album artist and title's, as it always was, so albums tagged in full keep theirs.
 */
export function identifyAlbum(members: readonly GroupMember[]): AlbumIdentity {
  const first = members[0];
  if (!first) throw new Error("an album group has at least one track");
  const tagged = mostCommon(members.map((member) => member.albumArtistTag));
  const isTaggedCompilation = members.some((member) => member.compilationTag);
  const primaries = new Set(members.map((member) => comparable(member.primaryArtist)));
  const wholeNames = new Set(members.map((member) => comparable(member.artist)));
  const albumArtist =
    tagged ??
    (isTaggedCompilation
      ? VARIOUS_ARTISTS
      : wholeNames.size === 1
        ? first.artist
        : primaries.size === 1
          ? first.primaryArtist
          : VARIOUS_ARTISTS);
  const title = mostCommon(members.map((member) => member.album)) ?? first.album;
  return {
    albumId: idOf(albumArtist || UNKNOWN_ARTIST, title),
    albumArtist: albumArtist || UNKNOWN_ARTIST,
    compilation: isTaggedCompilation || comparable(albumArtist) === comparable(VARIOUS_ARTISTS),
  };
}
