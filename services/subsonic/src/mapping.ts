// Our catalog records as the spec's Child, AlbumID3 and ArtistID3 (with OpenSubsonic's fields), annotated with
// the caller's stars, ratings and play counts from the events service.
import {
  eventsContract,
  type AlbumRecord,
  type Annotation,
  type AnnotatedKind,
  type ArtistRecord,
  type TrackRecord,
} from "@soundmesh/protocol";
import type { MethodContext } from "./context";
import { albumIdOf, artistIdOf, trackIdOf } from "./ids";
import type { Body } from "./response";

const iso = (ms: number) => new Date(ms).toISOString();

/** The file type a client expects from a track's codec (we never show the real path or name). */
export function fileTypeOf(codec: string | null): { suffix: string; contentType: string } {
  const name = (codec ?? "").toLowerCase();
  if (name.includes("flac")) return { suffix: "flac", contentType: "audio/flac" };
  if (name.includes("layer 3") || name === "mp3") return { suffix: "mp3", contentType: "audio/mpeg" };
  if (name.includes("opus")) return { suffix: "opus", contentType: "audio/ogg" };
  if (name.includes("vorbis")) return { suffix: "ogg", contentType: "audio/ogg" };
  if (name.includes("aac") || name.includes("alac") || name.includes("mp4"))
    return { suffix: "m4a", contentType: "audio/mp4" };
  if (name.includes("pcm")) return { suffix: "wav", contentType: "audio/wav" };
  if (name.includes("wma")) return { suffix: "wma", contentType: "audio/x-ms-wma" };
  return { suffix: "bin", contentType: "application/octet-stream" };
}

function annotationFields(annotation: Annotation | undefined): Body {
  if (!annotation) return { playCount: 0 };
  return {
    starred: annotation.starredAt === null ? undefined : iso(annotation.starredAt),
    userRating: annotation.rating ?? undefined,
    playCount: annotation.playCount,
    played: annotation.lastPlayedAt === null ? undefined : iso(annotation.lastPlayedAt),
  };
}

export function songOf(track: TrackRecord, annotation?: Annotation): Body {
  const { suffix, contentType } = fileTypeOf(track.codec);
  const artists = track.artists.map((artist) => ({ id: artistIdOf(artist.id), name: artist.name }));
  return {
    id: trackIdOf(track.id),
    parent: albumIdOf(track.albumId),
    isDir: false,
    title: track.title,
    album: track.album,
    artist: track.artist,
    track: track.trackNumber ?? undefined,
    year: track.year ?? undefined,
    genre: track.genre ?? undefined,
    coverArt: track.hasCover ? albumIdOf(track.albumId) : undefined,
    contentType,
    suffix,
    duration: Math.round(track.durationMs / 1000),
    bitRate: track.bitrateKbps ?? undefined,
    // A path for clients that file downloads by it; made from tags, never the server's real path.
    path: `${track.albumArtist}/${track.album}/${track.title}.${suffix}`.replaceAll("\0", ""),
    discNumber: track.discNumber ?? undefined,
    created: iso(track.addedAt),
    albumId: albumIdOf(track.albumId),
    artistId: artistIdOf(track.artistId),
    type: "music",
    mediaType: "song",
    isVideo: false,
    ...annotationFields(annotation),
    bpm: 0,
    comment: "",
    sortName: "",
    musicBrainzId: track.musicBrainzTrackId ?? "",
    genres: track.genre === null ? [] : [{ name: track.genre }],
    artists,
    displayArtist: track.artist,
    albumArtists: [{ id: artistIdOf(track.artistId), name: track.albumArtist }].slice(0, 1),
    displayAlbumArtist: track.albumArtist,
    replayGain:
      track.replayGain.trackGainDb === null && track.replayGain.albumGainDb === null
        ? undefined
        : {
            trackGain: track.replayGain.trackGainDb ?? undefined,
            albumGain: track.replayGain.albumGainDb ?? undefined,
          },
    explicitStatus: "",
  };
}

export function albumOf(album: AlbumRecord, annotation?: Annotation): Body {
  return {
    id: albumIdOf(album.id),
    name: album.title,
    artist: album.albumArtist,
    artistId: artistIdOf(album.artistId),
    coverArt: album.hasCover ? albumIdOf(album.id) : undefined,
    songCount: album.trackCount,
    duration: Math.round(album.durationMs / 1000),
    created: iso(album.addedAt),
    year: album.year ?? undefined,
    genre: album.genre ?? undefined,
    ...annotationFields(annotation),
    musicBrainzId: album.musicBrainzAlbumId ?? "",
    isCompilation: album.compilation,
    genres: album.genre === null ? [] : [{ name: album.genre }],
    artists: album.artists.map((artist) => ({ id: artistIdOf(artist.id), name: artist.name })),
    displayArtist: album.albumArtist,
    sortName: "",
    releaseTypes: [],
    recordLabels: [],
    moods: [],
    discTitles: [],
    explicitStatus: "",
    version: "",
  };
}

/** An album as a directory entry (getMusicDirectory, getAlbumList): the Child shape with isDir. */
export function albumDirectoryOf(album: AlbumRecord, annotation?: Annotation): Body {
  return {
    id: albumIdOf(album.id),
    parent: artistIdOf(album.artistId),
    isDir: true,
    title: album.title,
    name: album.title,
    album: album.title,
    artist: album.albumArtist,
    year: album.year ?? undefined,
    genre: album.genre ?? undefined,
    coverArt: album.hasCover ? albumIdOf(album.id) : undefined,
    duration: Math.round(album.durationMs / 1000),
    created: iso(album.addedAt),
    albumId: albumIdOf(album.id),
    artistId: artistIdOf(album.artistId),
    songCount: album.trackCount,
    ...annotationFields(annotation),
  };
}

export function artistOf(artist: ArtistRecord, annotation?: Annotation): Body {
  return {
    id: artistIdOf(artist.id),
    name: artist.name,
    albumCount: artist.albumCount,
    starred: annotation?.starredAt == null ? undefined : iso(annotation.starredAt),
    userRating: annotation?.rating ?? undefined,
    musicBrainzId: "",
    sortName: "",
    roles: artist.albumCount > 0 ? ["albumartist"] : ["artist"],
  };
}

/** The caller's annotations of these items, by our id (batches of 500, the events service's bound). */
export async function annotate(
  context: MethodContext,
  kind: AnnotatedKind,
  ids: readonly string[],
): Promise<Map<string, Annotation>> {
  const unique = [...new Set(ids)];
  const found = new Map<string, Annotation>();
  for (let start = 0; start < unique.length; start += 500) {
    const batch = unique.slice(start, start + 500);
    for (const annotation of await context.call(eventsContract, "annotations", { kind, ids: batch }))
      found.set(annotation.id, annotation);
  }
  return found;
}

export async function songsOf(context: MethodContext, tracks: readonly TrackRecord[]): Promise<Body[]> {
  if (tracks.length === 0) return [];
  const notes = await annotate(
    context,
    "track",
    tracks.map((track) => track.id),
  );
  return tracks.map((track) => songOf(track, notes.get(track.id)));
}

export async function albumsOf(
  context: MethodContext,
  albums: readonly AlbumRecord[],
  shape: (album: AlbumRecord, annotation?: Annotation) => Body = albumOf,
): Promise<Body[]> {
  if (albums.length === 0) return [];
  const notes = await annotate(
    context,
    "album",
    albums.map((album) => album.id),
  );
  return albums.map((album) => shape(album, notes.get(album.id)));
}

export async function artistsOf(context: MethodContext, artists: readonly ArtistRecord[]): Promise<Body[]> {
  if (artists.length === 0) return [];
  const notes = await annotate(
    context,
    "artist",
    artists.map((artist) => artist.id),
  );
  return artists.map((artist) => artistOf(artist, notes.get(artist.id)));
}
