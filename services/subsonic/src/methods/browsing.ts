// Browsing: music folders, indexes and directories (by folder), artists, albums and songs (by ID3 tags), genres,
// artist and album info, top songs.
import { catalogContract, eventsContract, type ArtistRecord } from "@soundmesh/protocol";
import { albumsOfArtist, allArtists, genresWithCounts, tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { albumIdOf, artistIdOf, idOfKind } from "../ids";
import { albumDirectoryOf, albumOf, albumsOf, annotate, artistOf, artistsOf, songsOf } from "../mapping";
import { similarArtists } from "./similar";
import type { Body } from "../response";

const IGNORED_ARTICLES = ["The", "El", "La", "Los", "Las", "Le", "Les"];
export const MUSIC_FOLDER = { id: 1, name: "Music" };

function indexLetterOf(name: string): string {
  let sortName = name.trim();
  for (const article of IGNORED_ARTICLES)
    if (sortName.toLowerCase().startsWith(`${article.toLowerCase()} `))
      sortName = sortName.slice(article.length + 1);
  const first = sortName.normalize("NFD").charAt(0).toUpperCase();
  return /^[A-Z]$/.test(first) ? first : "#";
}

/** The only music folder is the whole library: any other folder id is not found. */
function checkFolder(context: MethodContext): void {
  const folder = context.params.optionalInt("musicFolderId", -1_000_000, 1_000_000);
  if (folder !== undefined && folder !== MUSIC_FOLDER.id) throw new SubsonicError(70, "No such music folder");
}

async function indexed(context: MethodContext, shape: (artist: ArtistRecord, starred?: string) => Body) {
  const artists = await allArtists(context);
  const starred = new Map(
    (await context.call(eventsContract, "starred", { kind: "artist", limit: 500 })).map((note) => [
      note.id,
      new Date(note.starredAt ?? 0).toISOString(),
    ]),
  );
  const groups = new Map<string, Body[]>();
  for (const artist of artists) {
    const letter = indexLetterOf(artist.name);
    const group = groups.get(letter) ?? [];
    group.push(shape(artist, starred.get(artist.id)));
    groups.set(letter, group);
  }
  const letters = [...groups.keys()].sort((a, b) => (a === "#" ? 1 : b === "#" ? -1 : a.localeCompare(b)));
  return letters.map((name) => ({ name, artist: groups.get(name) ?? [] }));
}

async function artistById(context: MethodContext, value: string): Promise<ArtistRecord> {
  const { id } = idOfKind(value, "artist");
  return context.call(catalogContract, "artist", { artistId: id });
}

export const browsingMethods: MethodTable = {
  getMusicFolders: () => Promise.resolve({ musicFolders: { musicFolder: [MUSIC_FOLDER] } }),

  async getIndexes(context) {
    checkFolder(context);
    const index = await indexed(context, (artist, starred) => ({
      id: artistIdOf(artist.id),
      name: artist.name,
      albumCount: artist.albumCount,
      starred,
    }));
    return {
      indexes: { lastModified: Date.now(), ignoredArticles: IGNORED_ARTICLES.join(" "), index },
    };
  },

  async getArtists(context) {
    checkFolder(context);
    const index = await indexed(context, (artist, starred) => ({ ...artistOf(artist), starred }));
    return { artists: { ignoredArticles: IGNORED_ARTICLES.join(" "), index } };
  },

  async getArtist(context) {
    const artist = await artistById(context, context.params.string("id", 100));
    const albums = await albumsOfArtist(context, artist.id);
    const note = (await annotate(context, "artist", [artist.id])).get(artist.id);
    return { artist: { ...artistOf(artist, note), album: await albumsOf(context, albums) } };
  },

  async getAlbum(context) {
    const { id } = idOfKind(context.params.string("id", 100), "album");
    const { album, tracks } = await context.call(catalogContract, "album", { albumId: id });
    const note = (await annotate(context, "album", [album.id])).get(album.id);
    return { album: { ...albumOf(album, note), song: await songsOf(context, tracks) } };
  },

  async getSong(context) {
    const { id } = idOfKind(context.params.string("id", 100), "track");
    const [song] = await songsOf(context, await tracksByIds(context, [id]));
    if (!song) throw new SubsonicError(70, "Song not found");
    return { song };
  },

  async getMusicDirectory(context) {
    const { kind, id } = idOfKind(context.params.string("id", 100), "artist", "album");
    if (kind === "artist") {
      const artist = await context.call(catalogContract, "artist", { artistId: id });
      const albums = await albumsOfArtist(context, id);
      return {
        directory: {
          id: artistIdOf(id),
          name: artist.name,
          child: await albumsOf(context, albums, albumDirectoryOf),
        },
      };
    }
    const { album, tracks } = await context.call(catalogContract, "album", { albumId: id });
    return {
      directory: {
        id: albumIdOf(album.id),
        parent: artistIdOf(album.artistId),
        name: album.title,
        child: await songsOf(context, tracks),
      },
    };
  },

  async getGenres(context) {
    const genres = await genresWithCounts(context);
    return {
      genres: {
        genre: genres.map(({ genre, albumCount, songCount }) => ({ value: genre, songCount, albumCount })),
      },
    };
  },

  async getArtistInfo(context) {
    return { artistInfo: await artistInfo(context) };
  },
  async getArtistInfo2(context) {
    return { artistInfo2: await artistInfo(context) };
  },
  async getAlbumInfo(context) {
    return { albumInfo: await albumInfo(context) };
  },
  async getAlbumInfo2(context) {
    return { albumInfo: await albumInfo(context) };
  },

  async getTopSongs(context) {
    const name = context.params.string("artist", 500).trim().toLowerCase();
    const count = context.params.intOr("count", 50, 0, 500);
    const artist = (await allArtists(context)).find((candidate) => candidate.name.toLowerCase() === name);
    if (!artist || count === 0) return { topSongs: { song: [] } };
    const albums = await albumsOfArtist(context, artist.id);
    const albumTracks = await Promise.all(
      albums.slice(0, 50).map((album) => context.call(catalogContract, "album", { albumId: album.id })),
    );
    const theirs = albumTracks
      .flatMap((answer) => answer.tracks)
      .filter((track) => track.artists.some((credit) => credit.id === artist.id));
    // Most played on this server first; the rest in album order.
    const plays = new Map(
      (
        await context.call(eventsContract, "top", {
          kind: "track",
          period: "all",
          scope: "server",
          limit: 100,
        })
      ).map((entry) => [entry.id, entry.plays]),
    );
    const ranked = theirs
      .map((track, order) => ({ track, order, plays: plays.get(track.id) ?? 0 }))
      .sort((a, b) => b.plays - a.plays || a.order - b.order)
      .slice(0, count)
      .map((entry) => entry.track);
    return { topSongs: { song: await songsOf(context, ranked) } };
  },
};

/** We hold no biographies or images: the shape with empty texts, as the spec allows; similar artists from the radio. */
async function artistInfo(context: MethodContext): Promise<Body> {
  // Looked up so an unknown artist is "not found", as for every other id.
  const artist = await artistById(context, context.params.string("id", 100));
  const count = context.params.intOr("count", 20, 0, 100);
  context.params.optionalBool("includeNotPresent");
  const similar = count === 0 ? [] : await similarArtists(context, artist.id, count);
  return {
    biography: "",
    musicBrainzId: "",
    lastFmUrl: "",
    smallImageUrl: "",
    mediumImageUrl: "",
    largeImageUrl: "",
    similarArtist: await artistsOf(context, similar),
  };
}

async function albumInfo(context: MethodContext): Promise<Body> {
  const { id } = idOfKind(context.params.string("id", 100), "album");
  const { album } = await context.call(catalogContract, "album", { albumId: id });
  return {
    notes: "",
    musicBrainzId: album.musicBrainzAlbumId ?? "",
    lastFmUrl: "",
    smallImageUrl: "",
    mediumImageUrl: "",
    largeImageUrl: "",
  };
}
