// The OpenSubsonic response shapes (types and required fields, from the spec's pages), as zod schemas in two modes:
// JSON, whose types must be exact, and XML, where every attribute is text and is read as the type the spec gives.
import { z } from "zod";

export type Mode = "json" | "xml";

export function shapes(mode: Mode) {
  const isXml = mode === "xml";
  const text = isXml ? z.preprocess((v) => (typeof v === "number" ? String(v) : v), z.string()) : z.string();
  const int = isXml
    ? z.preprocess((v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v), z.number().int())
    : z.number().int();
  const num = isXml ? z.preprocess((v) => (typeof v === "string" ? Number(v) : v), z.number()) : z.number();
  const bool = isXml
    ? z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean())
    : z.boolean();
  const date = text.refine((value) => !Number.isNaN(Date.parse(value)), "an ISO date");
  const list = <T extends z.ZodType>(item: T) => z.array(item).optional();
  const idName = z.object({ id: text, name: text });

  const child = z.object({
    id: text,
    isDir: bool,
    title: text,
    parent: text.optional(),
    album: text.optional(),
    artist: text.optional(),
    track: int.optional(),
    year: int.optional(),
    genre: text.optional(),
    coverArt: text.optional(),
    size: int.optional(),
    contentType: text.optional(),
    suffix: text.optional(),
    duration: int.optional(),
    bitRate: int.optional(),
    path: text.optional(),
    discNumber: int.optional(),
    created: date.optional(),
    albumId: text.optional(),
    artistId: text.optional(),
    type: text.optional(),
    mediaType: text.optional(),
    userRating: int.optional(),
    starred: date.optional(),
    playCount: int.optional(),
    played: date.optional(),
    genres: list(z.object({ name: text })),
    artists: list(idName),
    albumArtists: list(idName),
    replayGain: z.object({ trackGain: num.optional(), albumGain: num.optional() }).optional(),
  });
  const album = z.object({
    id: text,
    name: text,
    songCount: int,
    duration: int,
    created: date,
    artist: text.optional(),
    artistId: text.optional(),
    coverArt: text.optional(),
    year: int.optional(),
    genre: text.optional(),
    starred: date.optional(),
    playCount: int.optional(),
    userRating: int.optional(),
    isCompilation: bool.optional(),
    genres: list(z.object({ name: text })),
    artists: list(idName),
  });
  const albumWithSongs = album.extend({ song: list(child) });
  const artist = z.object({
    id: text,
    name: text,
    albumCount: int.optional(),
    coverArt: text.optional(),
    starred: date.optional(),
  });
  const artistWithAlbums = artist.extend({ album: list(album) });
  const index = z.object({ name: text, artist: list(artist) });
  const playlist = z.object({
    id: text,
    name: text,
    songCount: int,
    duration: int,
    created: date,
    changed: date,
    owner: text.optional(),
    public: bool.optional(),
    comment: text.optional(),
    coverArt: text.optional(),
  });
  const roles = [
    "scrobblingEnabled",
    "adminRole",
    "settingsRole",
    "downloadRole",
    "uploadRole",
    "playlistRole",
    "coverArtRole",
    "commentRole",
    "podcastRole",
    "streamRole",
    "jukeboxRole",
    "shareRole",
  ] as const;
  const user = z.object({
    username: text,
    ...Object.fromEntries(roles.map((role) => [role, bool])),
    folder: list(int),
  });
  const line = z.object({ start: int.optional(), value: text });
  const streamDetails = z.object({
    protocol: text,
    container: text,
    codec: text,
    audioChannels: int.optional(),
    audioBitrate: int.optional(),
    audioProfile: text.optional(),
    audioSamplerate: int.optional(),
    audioBitdepth: int.optional(),
  });

  return {
    envelope: z.object({
      status: z.enum(["ok", "failed"]),
      version: text,
      type: text,
      serverVersion: text,
      openSubsonic: bool,
    }),
    error: z.object({ status: z.literal("failed"), error: z.object({ code: int, message: text }) }),
    child,
    album,
    albumWithSongs,
    artist,
    artistWithAlbums,
    playlist,
    playlistWithEntries: playlist.extend({ entry: list(child) }),
    user,
    musicFolders: z.object({ musicFolder: z.array(z.object({ id: int, name: text })) }),
    indexes: z.object({ lastModified: int, ignoredArticles: text, index: list(index) }),
    artists: z.object({ ignoredArticles: text, index: list(index) }),
    directory: z.object({ id: text, name: text, parent: text.optional(), child: list(child) }),
    genres: z.object({ genre: list(z.object({ value: text, songCount: int, albumCount: int })) }),
    artistInfo: z.object({
      biography: text.optional(),
      musicBrainzId: text.optional(),
      similarArtist: list(artist),
    }),
    albumInfo: z.object({ notes: text.optional(), musicBrainzId: text.optional() }),
    albumList: z.object({ album: list(child) }),
    albumList2: z.object({ album: list(album) }),
    songs: z.object({ song: list(child) }),
    nowPlaying: z.object({
      entry: list(
        child.extend({ username: text, minutesAgo: int, playerId: int, playerName: text.optional() }),
      ),
    }),
    starred: z.object({ artist: list(artist), album: list(child), song: list(child) }),
    starred2: z.object({ artist: list(artist), album: list(album), song: list(child) }),
    searchResult2: z.object({ artist: list(artist), album: list(child), song: list(child) }),
    searchResult3: z.object({ artist: list(artist), album: list(album), song: list(child) }),
    playlists: z.object({ playlist: list(playlist) }),
    playQueue: z.object({
      current: text.optional(),
      position: int.optional(),
      username: text,
      changed: date,
      changedBy: text,
      entry: list(child),
    }),
    playQueueByIndex: z.object({
      currentIndex: int.optional(),
      position: int.optional(),
      username: text,
      changed: date,
      changedBy: text,
      entry: list(child),
    }),
    users: z.object({ user: list(user) }),
    scanStatus: z.object({ scanning: bool, count: int.optional() }),
    license: z.object({ valid: bool }),
    extensions: z.array(z.object({ name: text, versions: z.array(int) })),
    similarSongs: z.object({ song: list(child) }),
    bookmarks: z.object({
      bookmark: list(
        z.object({
          position: int,
          username: text,
          comment: text.optional(),
          created: date,
          changed: date,
          // One Child; the XML reading makes every `entry` element a list.
          entry: isXml
            ? z.preprocess(
                (v: unknown) => (Array.isArray(v) && v.length === 1 ? (v[0] as unknown) : v),
                child,
              )
            : child,
        }),
      ),
    }),
    internetRadioStations: z.object({
      internetRadioStation: list(
        z.object({ id: text, name: text, streamUrl: text, homePageUrl: text.optional() }),
      ),
    }),
    shares: z.object({
      share: list(
        z.object({
          id: text,
          url: text,
          description: text.optional(),
          username: text,
          created: date,
          expires: date.optional(),
          lastVisited: date.optional(),
          visitCount: int,
          entry: list(child),
        }),
      ),
    }),
    transcodeDecision: z.object({
      canDirectPlay: bool,
      canTranscode: bool,
      transcodeReason: list(text),
      errorReason: text.optional(),
      transcodeParams: text.optional(),
      sourceStream: streamDetails.optional(),
      transcodeStream: streamDetails.optional(),
    }),
    lyrics: z.object({ artist: text.optional(), title: text.optional(), value: text.optional() }),
    lyricsList: z.object({
      structuredLyrics: list(
        z.object({
          lang: text,
          synced: bool,
          displayArtist: text.optional(),
          displayTitle: text.optional(),
          offset: int.optional(),
          line: list(line),
        }),
      ),
    }),
  };
}
