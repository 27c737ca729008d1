// The OpenSubsonic API against a real server on the fixture libraries: every browsing, list and search method in
// XML and JSON checked against the spec's shapes, driven by hand and through the subsonic-api client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ZodType } from "zod";
import { SubsonicAPI } from "subsonic-api";
import { userContract } from "@soundmesh/protocol";
import { WsClient, login } from "@soundmesh/test-kit";
import { ADMIN, USER, md5, passwordAuth, startHarness, type Harness } from "./harness";
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
  ["getSimilarSongs", () => ({ id: trackId }), "similarSongs", "similarSongs"],
  ["getSimilarSongs", () => ({ id: albumId }), "similarSongs", "similarSongs"],
  ["getSimilarSongs2", () => ({ id: artistId }), "similarSongs2", "similarSongs"],
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
  ["getBookmarks", () => ({}), "bookmarks", "bookmarks"],
  ["getInternetRadioStations", () => ({}), "internetRadioStations", "internetRadioStations"],
  ["getShares", () => ({}), "shares", "shares"],
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

describe("authentication", () => {
  const ok = { status: "ok" };
  it("accepts the Subsonic password plain and enc:-hex, a salted token, and an API key", async () => {
    const hex = Buffer.from(ADMIN.subsonic, "utf8").toString("hex");
    expect(await harness.json("ping", {}, { u: ADMIN.name, p: ADMIN.subsonic })).toMatchObject(ok);
    expect(await harness.json("ping", {}, { u: ADMIN.name, p: `enc:${hex}` })).toMatchObject(ok);
    expect(
      await harness.json("ping", {}, { u: ADMIN.name, t: md5(`${ADMIN.subsonic}abc123`), s: "abc123" }),
    ).toMatchObject(ok);
    expect(await harness.json("ping", {}, { apiKey: harness.apiKey })).toMatchObject(ok);
    const api = new SubsonicAPI({ url: harness.server.url, auth: { apiKey: harness.apiKey } });
    expect((await api.ping()).status).toBe("ok");
  });

  it("refuses the login password, a wrong password, a wrong token, and an unknown user with 40", async () => {
    for (const auth of [
      { u: ADMIN.name, p: ADMIN.password },
      { u: ADMIN.name, p: "wrong password" },
      { u: ADMIN.name, t: md5(`not-it${"s1"}`), s: "s1" },
      { u: "nobody", p: ADMIN.subsonic },
    ])
      expect(await harness.json("ping", {}, auth), JSON.stringify(auth)).toMatchObject({
        status: "failed",
        error: { code: 40, message: expect.stringContaining("Wrong username or password") },
      });
  });

  it("refuses an enc: password that is not hexadecimal with 40", async () => {
    expect(await harness.json("ping", {}, { u: ADMIN.name, p: "enc:zz" })).toMatchObject({
      error: { code: 40 },
    });
  });

  it("answers 43 for conflicting mechanisms, 44 for a bad API key, 10 for a missing credential, 20/30 for versions", async () => {
    expect(await harness.json("ping", {}, { apiKey: harness.apiKey, u: ADMIN.name })).toMatchObject({
      error: { code: 43 },
    });
    expect(
      await harness.json("ping", {}, { u: ADMIN.name, p: ADMIN.subsonic, t: md5("x"), s: "y" }),
    ).toMatchObject({
      error: { code: 43 },
    });
    expect(await harness.json("ping", {}, { apiKey: "not-a-key-of-anyone-here-0000" })).toMatchObject({
      error: { code: 44 },
    });
    expect(await harness.json("ping", {}, {})).toMatchObject({ error: { code: 10 } });
    expect(await harness.json("ping", {}, { u: ADMIN.name })).toMatchObject({ error: { code: 10 } });
    expect(await harness.json("ping", {}, { u: ADMIN.name, t: md5("x") })).toMatchObject({
      error: { code: 10 },
    });
    expect(await harness.json("ping", { v: "2.0.0" }, passwordAuth())).toMatchObject({ error: { code: 30 } });
    expect(await harness.json("ping", { v: "0.9.0" }, passwordAuth())).toMatchObject({ error: { code: 20 } });
  });

  it("a session token is not an API key (44); getOpenSubsonicExtensions needs no credential", async () => {
    const session = await login(harness.server.url, ADMIN.name, ADMIN.password);
    expect(await harness.json("ping", {}, { apiKey: session })).toMatchObject({ error: { code: 44 } });
    const response = await fetch(`${harness.server.url}/rest/getOpenSubsonicExtensions?f=json`);
    const body = (await response.json()) as { "subsonic-response": { openSubsonicExtensions: unknown } };
    shapes("json").extensions.parse(body["subsonic-response"].openSubsonicExtensions);
  });

  it("refuses an old Subsonic password on the very next request once it is changed or removed", async () => {
    const cleo = { name: "cleo", password: "cleo's login password", subsonic: "cleo-subsonic-1" };
    await harness.adminWs.call(userContract, "createUser", { name: cleo.name, password: cleo.password });
    const ws = await WsClient.connect(
      harness.server.url,
      await login(harness.server.url, cleo.name, cleo.password),
    );
    try {
      await ws.call(userContract, "setMySubsonicPassword", { password: cleo.subsonic });
      const first = { u: cleo.name, p: cleo.subsonic };
      // Signed in, and the sign-in cached (apps send a credential with every request).
      expect(await harness.json("ping", {}, first)).toMatchObject({ status: "ok" });
      expect(await harness.json("ping", {}, first)).toMatchObject({ status: "ok" });

      await ws.call(userContract, "setMySubsonicPassword", { password: "cleo-subsonic-2" });
      expect(await harness.json("ping", {}, first)).toMatchObject({ error: { code: 40 } });
      const second = { u: cleo.name, t: md5("cleo-subsonic-2salt"), s: "salt" };
      expect(await harness.json("ping", {}, second)).toMatchObject({ status: "ok" });

      await ws.call(userContract, "setMySubsonicPassword", { password: null });
      expect(await harness.json("ping", {}, second)).toMatchObject({ error: { code: 40 } });

      // An administrator's reset through the API (changePassword sets both passwords) bites at once too.
      const reset = async (password: string) =>
        expect(await harness.json("changePassword", { username: cleo.name, password })).toMatchObject({
          status: "ok",
        });
      await reset("cleo-subsonic-3");
      const third = { u: cleo.name, p: "cleo-subsonic-3" };
      expect(await harness.json("ping", {}, third)).toMatchObject({ status: "ok" });
      await reset("cleo-subsonic-4");
      expect(await harness.json("ping", {}, third)).toMatchObject({ error: { code: 40 } });
    } finally {
      await ws.close();
    }
  });

  it("keeps a plain user out of admin methods (50) and of other users' data", async () => {
    const user = passwordAuth(USER);
    for (const [method, params] of [
      ["getUsers", {}],
      ["createUser", { username: "eve", password: "eve's password", email: "e@x" }],
      ["deleteUser", { username: "admin" }],
      ["startScan", {}],
      ["getUser", { username: "admin" }],
      ["changePassword", { username: "admin", password: "taken over!" }],
    ] as const)
      expect(await harness.json(method, params, user), method).toMatchObject({
        status: "failed",
        error: { code: 50 },
      });
    expect(await harness.json("getUser", { username: USER.name }, user)).toMatchObject({
      user: { username: USER.name, adminRole: false },
    });
  });
});

describe("errors in XML and JSONP", () => {
  it("an XML error carries the spec's code and text; JSONP wraps the JSON in the callback", async () => {
    const failed = await harness.xml("getAlbum", {});
    expect(failed).toMatchObject({ status: "failed", error: { code: "10" } });
    shapes("xml").error.parse(failed);
    const jsonp = await (await harness.raw("ping", { f: "jsonp", callback: "handle" })).text();
    expect(jsonp).toMatch(/^handle\(\{"subsonic-response":\{"status":"ok"/);
    const refused = await (await harness.raw("ping", { f: "jsonp", callback: "alert(1)//" })).text();
    expect(refused.startsWith("{")).toBe(true);
  });
});

/** Every method we serve, with the parameters that make it do something. */
const everyMethod = [
  ...new Set([
    ...calls.map(([method]) => method),
    "star",
    "unstar",
    "setRating",
    "scrobble",
    "reportPlayback",
    "getPlaylist",
    "createPlaylist",
    "updatePlaylist",
    "deletePlaylist",
    "getPlayQueue",
    "savePlayQueue",
    "getPlayQueueByIndex",
    "savePlayQueueByIndex",
    "createUser",
    "updateUser",
    "deleteUser",
    "changePassword",
    "startScan",
    "stream",
    "download",
    "getCoverArt",
    "getLyrics",
    "getLyricsBySongId",
    "getAvatar",
    "jukeboxControl",
    "createBookmark",
    "deleteBookmark",
    "createInternetRadioStation",
    "updateInternetRadioStation",
    "deleteInternetRadioStation",
    "createShare",
    "updateShare",
    "deleteShare",
    "getTranscodeDecision",
    "getTranscodeStream",
    "noSuchMethod",
  ]),
];
const names = [
  "id",
  "albumId",
  "artistId",
  "songId",
  "playlistId",
  "type",
  "size",
  "offset",
  "count",
  "query",
  "rating",
  "time",
  "submission",
  "fromYear",
  "toYear",
  "genre",
  "username",
  "password",
  "name",
  "songIndexToRemove",
  "songIdToAdd",
  "current",
  "position",
  "currentIndex",
  "maxBitRate",
  "format",
  "timeOffset",
  "musicFolderId",
  "state",
  "mediaId",
  "artist",
  "title",
  "adminRole",
  "public",
  "comment",
  "streamUrl",
  "homepageUrl",
  "description",
  "expires",
  "mediaType",
  "transcodeParams",
];
const badValues = [
  "",
  "-1",
  "abc",
  "1e309",
  "99999999999999999999",
  "../../../../etc/passwd",
  "\u0000\uffff",
  "x".repeat(20_000),
  "al-",
  "tr-%00",
  "9007199254740993",
  "true",
];

describe("fuzz: every endpoint with missing, repeated, huge and wrong-typed parameters", () => {
  it.each(everyMethod)("%s never answers a 500, and every failure is a Subsonic error", async (method) => {
    const cases: Array<Record<string, string | string[]>> = [{}];
    for (const name of names) {
      cases.push({ [name]: badValues[(name.length * 7) % badValues.length]! });
      cases.push({ [name]: [badValues[name.length % badValues.length]!, "1", "tr-x"] });
    }
    cases.push(Object.fromEntries(names.map((name, index) => [name, badValues[index % badValues.length]!])));
    cases.push(Object.fromEntries(names.map((name) => [name, "x".repeat(5_000)])));
    for (const params of cases) {
      // As a form (formPost): huge values do not fit a URL, which Node refuses at 16 KiB before any route runs.
      const form = new URLSearchParams({
        u: ADMIN.name,
        p: ADMIN.subsonic,
        v: "1.16.1",
        c: "fuzz",
        f: "json",
      });
      for (const [name, value] of Object.entries(params))
        for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
      const response = await fetch(`${harness.server.url}/rest/${method}.view`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
      expect(response.status, `${method} ${JSON.stringify(params).slice(0, 200)}`).toBeLessThan(500);
      const type = response.headers.get("content-type") ?? "";
      if (!type.includes("json")) {
        // Media methods answer bytes when the parameters happen to name something (or 416 for a bad Range).
        await response.arrayBuffer();
        continue;
      }
      const text = await response.text();
      const body = JSON.parse(text) as {
        "subsonic-response"?: { status: string; error?: { code: number } };
      };
      const answer = body["subsonic-response"];
      expect(
        answer,
        `${method} ${JSON.stringify(params).slice(0, 200)}: ${text.slice(0, 300)}`,
      ).toBeDefined();
      if (answer?.status === "failed")
        expect([0, 10, 20, 30, 40, 41, 42, 43, 44, 50, 70]).toContain(answer.error?.code);
    }
  });

  it("a form body that is not a form, or too large, is a Subsonic error too", async () => {
    const post = (body: string, type: string) =>
      fetch(`${harness.server.url}/rest/ping.view?f=json`, {
        method: "POST",
        headers: { "content-type": type },
        body,
      });
    for (const response of [
      await post("u=admin&p=" + ADMIN.subsonic + "&v=1.16.1&c=x", "application/json"),
      await post("x=" + "y".repeat(400_000), "application/x-www-form-urlencoded"),
    ]) {
      expect(response.status).toBe(200);
      const body = (await response.json()) as { "subsonic-response": { status: string } };
      expect(body["subsonic-response"].status).toBe("failed");
    }
    const form = await post(
      `u=${ADMIN.name}&p=${ADMIN.subsonic}&v=1.16.1&c=x`,
      "application/x-www-form-urlencoded",
    );
    expect(
      ((await form.json()) as { "subsonic-response": { status: string } })["subsonic-response"].status,
    ).toBe("ok");
  });
});
