// Contract of the catalog: library scans, artists/albums/tracks browsing, cover art, sources for storage and search.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";
import { smartRules } from "./playlist";
import { binary } from "./storage";
import { trackId } from "./stream";

export const entityId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "an id");
const page = {
  limit: z.number().int().min(1).max(500).default(50),
  offset: z.number().int().min(0).max(1_000_000).default(0),
};

export const trackRecord = z.object({
  id: z.string(),
  title: z.string(),
  artist: z.string(),
  artistId: z.string(),
  album: z.string(),
  albumId: z.string(),
  albumArtist: z.string(),
  trackNumber: z.number().int().nullable(),
  discNumber: z.number().int().nullable(),
  year: z.number().int().nullable(),
  genre: z.string().nullable(),
  durationMs: z.number().int(),
  codec: z.string().nullable(),
  bitrateKbps: z.number().int().nullable(),
  musicBrainzTrackId: z.string().nullable(),
  replayGain: z.object({ trackGainDb: z.number().nullable(), albumGainDb: z.number().nullable() }),
  addedAt: z.number().int(),
});
export type TrackRecord = z.infer<typeof trackRecord>;

export const albumRecord = z.object({
  id: z.string(),
  title: z.string(),
  albumArtist: z.string(),
  artistId: z.string(),
  year: z.number().int().nullable(),
  genre: z.string().nullable(),
  compilation: z.boolean(),
  trackCount: z.number().int(),
  discCount: z.number().int(),
  durationMs: z.number().int(),
  hasCover: z.boolean(),
  musicBrainzAlbumId: z.string().nullable(),
  addedAt: z.number().int(),
});
export type AlbumRecord = z.infer<typeof albumRecord>;

export const artistRecord = z.object({
  id: z.string(),
  name: z.string(),
  albumCount: z.number().int(),
  trackCount: z.number().int(),
});
export type ArtistRecord = z.infer<typeof artistRecord>;

const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), total: z.number().int() });

export const scanStatus = z.object({
  scanId: z.string().nullable(),
  running: z.boolean(),
  phase: z.enum(["idle", "walking", "reading", "saving"]),
  done: z.number().int(),
  total: z.number().int(),
  added: z.number().int(),
  updated: z.number().int(),
  removed: z.number().int(),
  errors: z.number().int(),
  startedAt: z.number().int().nullable(),
  finishedAt: z.number().int().nullable(),
});
export type ScanStatus = z.infer<typeof scanStatus>;

export const searchDocument = z.object({
  id: z.string(),
  kind: z.enum(["track", "album", "artist"]),
  title: z.string(),
  subtitle: z.string(),
  artist: z.string(),
  album: z.string(),
  year: z.number().int().nullable(),
  popularity: z.number(),
});
export type SearchDocument = z.infer<typeof searchDocument>;

/** One entry of an imported playlist file: where it says the file is, and what it says the track is. */
export const playlistFileEntry = z.object({
  path: z.string().max(4_096).nullable(),
  artist: z.string().max(500).nullable(),
  title: z.string().max(500).nullable(),
  durationMs: z.number().int().nonnegative().nullable(),
});
export type PlaylistFileEntry = z.infer<typeof playlistFileEntry>;

export const catalogContract = defineService("catalog", {
  artists: { params: z.object(page), result: pageOf(artistRecord), exposed: true },
  artist: { params: z.object({ artistId: entityId }), result: artistRecord, exposed: true },
  albumsOfArtist: {
    params: z.object({ artistId: entityId, ...page }),
    result: pageOf(albumRecord),
    exposed: true,
  },
  album: {
    params: z.object({ albumId: entityId }),
    result: z.object({ album: albumRecord, tracks: z.array(trackRecord) }),
    exposed: true,
  },
  track: { params: z.object({ trackId }), result: trackRecord, exposed: true },
  tracks: {
    params: z.object({ trackIds: z.array(trackId).max(500) }),
    result: z.array(trackRecord),
    exposed: true,
  },
  recentlyAdded: { params: z.object(page), result: pageOf(albumRecord), exposed: true },
  genres: {
    params: z.object({}),
    result: z.array(z.object({ genre: z.string(), albumCount: z.number().int() })),
    exposed: true,
  },
  byGenre: {
    params: z.object({ genre: z.string().min(1).max(200), ...page }),
    result: pageOf(albumRecord),
    exposed: true,
  },
  years: {
    params: z.object({}),
    result: z.array(z.object({ year: z.number().int(), albumCount: z.number().int() })),
    exposed: true,
  },
  byYear: {
    params: z.object({ year: z.number().int().min(0).max(3000), ...page }),
    result: pageOf(albumRecord),
    exposed: true,
  },
  random: {
    params: z.object({ kind: z.enum(["albums", "tracks"]).default("albums"), limit: page.limit }),
    result: z.object({ albums: z.array(albumRecord), tracks: z.array(trackRecord) }),
    exposed: true,
  },
  scan: {
    params: z.object({ full: z.boolean().default(false) }),
    result: z.object({ scanId: z.string() }),
    exposed: true,
    adminOnly: true,
  },
  scanStatus: { params: z.object({}), result: scanStatus, exposed: true, adminOnly: true },
  scanErrors: {
    params: z.object(page),
    result: pageOf(z.object({ path: z.string(), reason: z.string(), seenAt: z.number().int() })),
    exposed: true,
    adminOnly: true,
  },
  libraryFolders: { params: z.object({}), result: z.array(z.string()), exposed: true, adminOnly: true },
  /** Internal (storage): where a track's file is; clients never see paths. */
  trackSource: {
    params: z.object({ trackId }),
    result: z.object({
      path: z.string(),
      sizeBytes: z.number().int(),
      mtimeMs: z.number(),
      durationMs: z.number().int(),
    }),
  },
  /** Internal (search): the catalog as search documents, in pages. */
  searchDocuments: {
    params: z.object({
      cursor: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(5_000).default(1_000),
    }),
    result: z.object({ documents: z.array(searchDocument), nextCursor: z.number().int().nullable() }),
  },
  /** Internal (playlist import): library tracks for playlist-file entries, by path under a library folder, then tags. */
  matchEntries: {
    params: z.object({ entries: z.array(playlistFileEntry).max(20_000) }),
    result: z.object({
      matches: z.array(z.object({ trackId: z.string().nullable(), by: z.enum(["path", "tags"]).nullable() })),
    }),
  },
  /** Internal (playlist export): each track as a playlist file lists it, its path relative to its library folder. */
  trackEntries: {
    params: z.object({ trackIds: z.array(trackId).max(20_000) }),
    result: z.array(
      z.object({
        trackId: z.string(),
        relativePath: z.string(),
        title: z.string(),
        artist: z.string(),
        album: z.string(),
        durationMs: z.number().int(),
      }),
    ),
  },
  /** Internal (transcoding ahead): track ids, most recently added first, a page at a time. */
  recentTrackIds: {
    params: z.object({ limit: z.number().int().min(1).max(5_000), offset: z.number().int().min(0) }),
    result: z.object({ trackIds: z.array(z.string()) }),
  },
  /** Internal (smart playlists): the tracks matching the rules, in the rules' order. */
  smartTracks: {
    params: z.object({ rules: smartRules }),
    result: z.object({ trackIds: z.array(z.string()) }),
  },
  /** Internal (access point): album art resized to a square of `size` pixels. */
  cover: {
    params: z.object({
      albumId: entityId,
      size: z.union([z.literal(64), z.literal(300), z.literal(600)]).default(300),
    }),
    result: z.object({ bytes: binary, mimeType: z.string() }),
  },
});
export type CatalogContract = typeof catalogContract;

export const catalogChangedEvent = defineEvent(
  "catalog.changed",
  z.object({
    scanId: z.string(),
    added: z.number().int(),
    updated: z.number().int(),
    removed: z.number().int(),
  }),
);

export const scanProgressEvent = defineEvent("catalog.scanProgress", scanStatus);
