// The OpenSubsonic API against a real server on the fixture libraries: every browsing, list and search method in
// XML and JSON checked against the spec's shapes, driven by hand and through the subsonic-api client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ZodType } from "zod";
import { startHarness, type Harness } from "./harness";
import { shapes, type Mode } from "./schemas";

let harness: Harness;
let albumId: string;
let trackId: string;
let artistId: string;

beforeAll(async () => {
  harness = await startHarness();
  const list = await harness.json("getAlbumList2", { type: "alphabeticalByName", size: "500" });
  const albums = (list.albumList2 as { album: Array<{ id: string; name: string; artistId: string }> }).album;
  const album = albums.find((candidate) => candidate.name === "Ágætis byrjun")!;
  albumId = album.id;
  artistId = album.artistId;
  const detail = await harness.json("getAlbum", { id: albumId });
  trackId = (detail.album as { song: Array<{ id: string }> }).song[0]!.id;
}, 180_000);
afterAll(async () => harness?.close());

type Call = [method: string, params: () => Record<string, string | string[]>, field: string, shape: string];
const calls: Call[] = [
  ["ping", () => ({}), "", ""],
  ["getLicense", () => ({}), "license", "license"],
  ["getMusicFolders", () => ({}), "musicFolders", "musicFolders"],
  ["getIndexes", () => ({}), "indexes", "indexes"],
  ["getArtists", () => ({}), "artists", "artists"],
  ["getArtist", () => ({ id: artistId }), "artist", "artistWithAlbums"],
  ["getAlbum", () => ({ id: albumId }), "album", "albumWithSongs"],
  ["getSong", () => ({ id: trackId }), "song", "child"],
  ["getMusicDirectory", () => ({ id: artistId }), "directory", "directory"],
  ["getMusicDirectory", () => ({ id: albumId }), "directory", "directory"],
  ["getGenres", () => ({}), "genres", "genres"],
  ["getArtistInfo", () => ({ id: artistId }), "artistInfo", "artistInfo"],
  ["getArtistInfo2", () => ({ id: artistId }), "artistInfo2", "artistInfo"],
  ["getAlbumInfo", () => ({ id: albumId }), "albumInfo", "albumInfo"],
  ["getAlbumInfo2", () => ({ id: albumId }), "albumInfo", "albumInfo"],
  ["getTopSongs", () => ({ artist: "Sigur Rós" }), "topSongs", "songs"],
  ...[
    "random",
    "newest",
    "highest",
    "frequent",
    "recent",
    "alphabeticalByName",
    "alphabeticalByArtist",
    "starred",
  ].flatMap((type): Call[] => [
    ["getAlbumList", () => ({ type }), "albumList", "albumList"],
    ["getAlbumList2", () => ({ type }), "albumList2", "albumList2"],
  ]),
  ["getAlbumList2", () => ({ type: "byYear", fromYear: "1990", toYear: "2030" }), "albumList2", "albumList2"],
  ["getAlbumList2", () => ({ type: "byGenre", genre: "Post-Rock" }), "albumList2", "albumList2"],
  ["getRandomSongs", () => ({ size: "5" }), "randomSongs", "songs"],
  ["getSongsByGenre", () => ({ genre: "Post-Rock" }), "songsByGenre", "songs"],
  ["getNowPlaying", () => ({}), "nowPlaying", "nowPlaying"],
  ["getStarred", () => ({}), "starred", "starred"],
  ["getStarred2", () => ({}), "starred2", "starred2"],
  ["search2", () => ({ query: "sigur" }), "searchResult2", "searchResult2"],
  ["search3", () => ({ query: "sigur" }), "searchResult3", "searchResult3"],
  ["search3", () => ({ query: "" }), "searchResult3", "searchResult3"],
  ["getPlaylists", () => ({}), "playlists", "playlists"],
  ["getUser", () => ({ username: "admin" }), "user", "user"],
  ["getUsers", () => ({}), "users", "users"],
  ["getScanStatus", () => ({}), "scanStatus", "scanStatus"],
];

describe.each<Mode>(["json", "xml"])("every read method in %s", (mode) => {
  const schemas = () => shapes(mode) as unknown as Record<string, ZodType>;
  it.each(calls)("%s answers the spec's shape", async (method, params, field, shape) => {
    const response =
      mode === "json" ? await harness.json(method, params()) : await harness.xml(method, params());
    expect(response.error, JSON.stringify(response.error)).toBeUndefined();
    shapes(mode).envelope.parse(response);
    expect(response).toMatchObject({ status: "ok", openSubsonic: mode === "json" ? true : "true" });
    if (field !== "") {
      // An element with neither attributes nor children (e.g. `<playlists/>`) parses as "".
      const value = response[field] === "" ? {} : response[field];
      const parsed = schemas()[shape]!.safeParse(value);
      expect(parsed.success, `${method}: ${JSON.stringify(parsed.error?.issues.slice(0, 3))}`).toBe(true);
    }
  });
});

describe("what the answers hold", () => {
  it("lists every album artist under an index letter, and the album with its songs in order", async () => {
    const artists = (await harness.json("getArtists")).artists as {
      index: Array<{ name: string; artist: Array<{ name: string }> }>;
    };
    const names = artists.index.flatMap((entry) => entry.artist.map((artist) => artist.name));
    expect(names).toContain("Sigur Rós");
    expect(artists.index.find((entry) => entry.name === "S")?.artist.map((a) => a.name)).toContain(
      "Sigur Rós",
    );
    const album = (await harness.json("getAlbum", { id: albumId })).album as {
      song: Array<{ title: string; track: number; albumId: string; coverArt?: string }>;
      songCount: number;
    };
    expect(album.song.map((song) => song.title)).toEqual(["Svefn-g-englar", "Starálfur"]);
    expect(album.songCount).toBe(2);
    expect(album.song.every((song) => song.albumId === albumId)).toBe(true);
  });

  it("ids carry their kind: an album id is not a song id, and a foreign id is not found (70)", async () => {
    expect(albumId).toMatch(/^al-/);
    expect(trackId).toMatch(/^tr-/);
    expect(artistId).toMatch(/^ar-/);
    for (const [method, id] of [
      ["getSong", albumId],
      ["getAlbum", trackId],
      ["getArtist", albumId],
      ["getAlbum", "al-doesnotexist"],
      ["getSong", "12345"],
      ["getMusicDirectory", "../../etc/passwd"],
    ] as const) {
      const response = await harness.json(method, { id });
      expect(response, `${method} ${id}`).toMatchObject({ status: "failed", error: { code: 70 } });
    }
  });

  it("search3 tolerates typos and pages apart per kind; an empty query lists the library stably", async () => {
    const typo = (await harness.json("search3", { query: "ageatis" })).searchResult3 as {
      album?: Array<{ name: string }>;
    };
    expect(typo.album?.map((album) => album.name)).toContain("Ágætis byrjun");
    const page = async (offset: number) =>
      (
        (
          await harness.json("search3", {
            query: "",
            songCount: "3",
            songOffset: String(offset),
            artistCount: "0",
            albumCount: "0",
          })
        ).searchResult3 as { song?: Array<{ id: string }> }
      ).song?.map((song) => song.id) ?? [];
    const first = await page(0);
    const second = await page(3);
    expect(first).toHaveLength(3);
    expect(second.some((id) => first.includes(id))).toBe(false);
    expect(await page(0)).toEqual(first);
    const all = [];
    for (let offset = 0; ; offset += 3) {
      const ids = await page(offset);
      all.push(...ids);
      if (ids.length < 3) break;
    }
    expect(new Set(all).size).toBe(harness.audioFiles);
  });

  it("alphabetical album lists page without overlap and in a stable order", async () => {
    const ids = async (offset: number) =>
      (
        (
          await harness.json("getAlbumList2", {
            type: "alphabeticalByName",
            size: "4",
            offset: String(offset),
          })
        ).albumList2 as { album: Array<{ id: string; name: string }> }
      ).album;
    const [first, second] = [await ids(0), await ids(4)];
    expect(first).toHaveLength(4);
    expect(second.some((album) => first.some((other) => other.id === album.id))).toBe(false);
    expect((await ids(0)).map((album) => album.id)).toEqual(first.map((album) => album.id));
  });

  it("getIndexes and getArtists refuse a music folder that does not exist", async () => {
    expect(await harness.json("getIndexes", { musicFolderId: "7" })).toMatchObject({ error: { code: 70 } });
    expect(await harness.json("getArtists", { musicFolderId: "1" })).toMatchObject({ status: "ok" });
  });
});

describe("through the subsonic-api client", () => {
  it("browses with GET and with formPost", async () => {
    for (const post of [false, true]) {
      const api = harness.client(undefined, { post });
      expect((await api.ping()).status).toBe("ok");
      const { album } = await api.getAlbum({ id: albumId });
      expect(album.name).toBe("Ágætis byrjun");
      const { searchResult3 } = await api.search3({ query: "sigur" });
      expect(searchResult3.artist?.map((artist) => artist.name)).toContain("Sigur Rós");
      const { openSubsonicExtensions } = await api.getOpenSubsonicExtensions();
      expect(openSubsonicExtensions.map((extension) => extension.name)).toEqual(
        expect.arrayContaining([
          "formPost",
          "apiKeyAuthentication",
          "songLyrics",
          "indexBasedQueue",
          "transcodeOffset",
        ]),
      );
    }
  });
});
