// Contract of the catalog: library scans, artists/albums/tracks browsing, cover art, sources for storage and search.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";
import { smartRules } from "./playlist";
import { albumCoverParams, coverImage } from "./storage";
import { trackId } from "./stream";

export const entityId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "an id");
const page = {
  limit: z.number().int().min(1).max(500).default(50),
  offset: z.number().int().min(0).max(1_000_000).default(0),
};

/** One artist a track or album credits, with the id of their artist page. */
export const artistCredit = z.object({ id: z.string(), name: z.string() });
export type ArtistCredit = z.infer<typeof artistCredit>;

export const trackRecord = z.object({
  id: z.string(),
  title: z.string(),
  /** As tagged, e.g. "A feat. B"; `artists` lists who that credits. */
  artist: z.string(),
  /** The first credited artist's page. */
  artistId: z.string(),
  artists: z.array(artistCredit),
  album: z.string(),
  albumId: z.string(),
  albumArtist: z.string(),
  /** Whether its album has cover art: a client asks for `/api/cover/<albumId>` only when it has. */
  hasCover: z.boolean(),
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
  /** The first credited album artist's page. */
  artistId: z.string(),
  artists: z.array(artistCredit),
  /** The most common original year of its tracks. */
  year: z.number().int().nullable(),
  /** The most common genre of its tracks. */
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

/** Every artist credited on a track or as an album artist. */
export const artistRecord = z.object({
  id: z.string(),
  name: z.string(),
  /** Albums whose album artists include them. */
  albumCount: z.number().int(),
  /** Other albums with a track that credits them. */
  appearsOnCount: z.number().int(),
  trackCount: z.number().int(),
  /** When the newest of their tracks was added. */
  addedAt: z.number().int(),
});
export type ArtistRecord = z.infer<typeof artistRecord>;

const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), total: z.number().int() });

/** Why the last scan stopped without changing anything, and whether an admin may confirm it to go ahead. */
export const scanProblem = z.object({
  code: z.enum(["LIBRARY_UNAVAILABLE", "MASS_REMOVAL_REFUSED", "INTERNAL"]),
  message: z.string(),
  /** The library folder concerned, when one is. */
  folder: z.string().nullable(),
  /** Tracks the scan would have removed, for the confirmation. */
  wouldRemove: z.number().int().nullable(),
  /** Scanning again with allowMassRemoval goes ahead. */
  canConfirm: z.boolean(),
});
export type ScanProblem = z.infer<typeof scanProblem>;

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
  /** Set when the last scan stopped and removed nothing: a folder unavailable, a mass removal to confirm. */
  problem: scanProblem.nullable().default(null),
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

export const artistSort = z.enum(["name", "recent"]);
export const albumSort = z.enum(["title", "artist", "year", "recent"]);

export const catalogContract = defineService("catalog", {
  /** Every credited artist, by name or most recently added first. */
  artists: {
    params: z.object({ sort: artistSort.default("name"), ...page }),
    result: pageOf(artistRecord),
    exposed: true,
  },
  artist: { params: z.object({ artistId: entityId }), result: artistRecord, exposed: true },
  /** An artist's own albums, or the albums they appear on (a track credits them), newest first. */
  albumsOfArtist: {
    params: z.object({
      artistId: entityId,
      role: z.enum(["albumArtist", "appearsOn"]).default("albumArtist"),
      ...page,
    }),
    result: pageOf(albumRecord),
    exposed: true,
  },
  /** Every album, by title, album artist, year (newest first) or most recently added first. */
  albums: {
    params: z.object({ sort: albumSort.default("title"), ...page }),
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
    params: z.object({
      full: z.boolean().default(false),
      /** Go ahead although the scan removes more than a quarter of a folder's tracks (or empties one). */
      allowMassRemoval: z.boolean().default(false),
    }),
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
  cover: { params: albumCoverParams, result: coverImage },
});
export type CatalogContract = typeof catalogContract;

export const catalogChangedEvent = defineEvent(
  "catalog.changed",
  z.object({
    scanId: z.string(),
    added: z.number().int(),
    updated: z.number().int(),
    removed: z.number().int(),
    /**
     * The ids removed, so search forgets them at once (before its rebuild); left out when there were more than
     * MAX_REMOVED_IDS, and then search checks track hits against the catalog until its rebuild.
     */
    removedTrackIds: z.array(z.string()).max(10_000).optional(),
  }),
);

export const MAX_REMOVED_IDS = 10_000;

export const scanProgressEvent = defineEvent("catalog.scanProgress", scanStatus);
