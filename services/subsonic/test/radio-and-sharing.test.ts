// The rest of the OpenSubsonic API against a real server on the fixture libraries: similar songs and artists from
// our radio, bookmarks, internet radio stations, shares and their public page, the transcoding extension.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recommendContract } from "@soundmesh/protocol";
import { waitUntil } from "@soundmesh/test-kit";
import { ADMIN, USER, passwordAuth, startHarness, type Harness } from "./harness";
import { shapes } from "./schemas";

let harness: Harness;
let albumId: string;
let trackIds: string[];
let artistId: string;

type Songs = { song?: Array<{ id: string; artistId: string; artists: Array<{ id: string }> }> };

beforeAll(async () => {
  harness = await startHarness();
  const list = await harness.json("getAlbumList2", { type: "alphabeticalByName", size: "500" });
  const albums = (list.albumList2 as { album: Array<{ id: string; name: string; artistId: string }> }).album;
  const album = albums.find((candidate) => candidate.name === "Ágætis byrjun")!;
  albumId = album.id;
  artistId = album.artistId;
  const detail = await harness.json("getAlbum", { id: albumId });
  trackIds = (detail.album as { song: Array<{ id: string }> }).song.map((song) => song.id);
  // The radio index the server built at start may predate the scan: build it over the whole library.
  await waitUntil(
    async () => {
      const status = await harness.adminWs.call(recommendContract, "status", {});
      if (!status.building && status.tracks !== harness.audioFiles)
        await harness.adminWs.call(recommendContract, "rebuild", {});
      return status;
    },
    (status) => status.loaded && !status.building && status.tracks === harness.audioFiles,
    120_000,
    200,
  );
}, 240_000);
afterAll(async () => harness?.close());

describe("similar songs and artists from the radio", () => {
  it("getSimilarSongs from a song, an album and an artist answers other songs of the library", async () => {
    for (const id of [trackIds[0]!, albumId, artistId]) {
      const response = await harness.json("getSimilarSongs", { id, count: "10" });
      const { song = [] } = response.similarSongs as Songs;
      shapes("json").similarSongs.parse(response.similarSongs);
      expect(song.length, id).toBeGreaterThan(0);
      expect(song.length).toBeLessThanOrEqual(10);
      expect(song.every((entry) => entry.id.startsWith("tr-"))).toBe(true);
      if (id.startsWith("tr-")) expect(song.map((entry) => entry.id)).not.toContain(id);
    }
  });

  it("getSimilarSongs2 from an artist answers songs in XML and JSON; count bounds the list", async () => {
    const json = await harness.json("getSimilarSongs2", { id: artistId, count: "3" });
    const { song = [] } = json.similarSongs2 as Songs;
    expect(song.length).toBeGreaterThan(0);
    expect(song.length).toBeLessThanOrEqual(3);
    const xml = await harness.xml("getSimilarSongs2", { id: artistId, count: "3" });
    expect(shapes("xml").similarSongs.safeParse(xml.similarSongs2).success).toBe(true);
    expect(((xml.similarSongs2 as Songs).song ?? []).map((entry) => entry.id)).toEqual(
      song.map((entry) => entry.id),
    );
    expect(await harness.json("getSimilarSongs2", { id: artistId, count: "0" })).toMatchObject({
      similarSongs2: {},
    });
  });

  it("getArtistInfo2 names similar artists from the radio's neighbours, never the artist itself", async () => {
    const info = (await harness.json("getArtistInfo2", { id: artistId })).artistInfo2 as {
      similarArtist?: Array<{ id: string; name: string }>;
    };
    const similar = info.similarArtist ?? [];
    expect(similar.length).toBeGreaterThan(0);
    expect(similar.map((artist) => artist.id)).not.toContain(artistId);
    for (const artist of similar.slice(0, 3))
      expect(await harness.json("getArtist", { id: artist.id })).toMatchObject({ status: "ok" });
    const one = (await harness.json("getArtistInfo", { id: artistId, count: "1" })).artistInfo as {
      similarArtist?: unknown[];
    };
    expect(one.similarArtist).toHaveLength(1);
  });

  it("refuses a missing id (10), an unknown or wrong-kind id (70), for every caller", async () => {
    for (const method of ["getSimilarSongs", "getSimilarSongs2"]) {
      expect(await harness.json(method, {})).toMatchObject({ error: { code: 10 } });
      expect(await harness.json(method, { id: "ar-nosuchartist" })).toMatchObject({ error: { code: 70 } });
    }
    expect(await harness.json("getSimilarSongs2", { id: trackIds[0]! })).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("getSimilarSongs", { id: "tr-nosuchtrack" })).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("getSimilarSongs", { id: artistId }, passwordAuth(USER))).toMatchObject({
      status: "ok",
    });
    expect(
      await harness.json("getSimilarSongs", { id: artistId }, { u: USER.name, p: "wrong" }),
    ).toMatchObject({ error: { code: 40 } });
  });
});

describe("bookmarks", () => {
  it("creates, moves, lists (XML and JSON shapes) and deletes the caller's bookmarks", async () => {
    expect(
      await harness.json("createBookmark", { id: trackIds[0]!, position: "61500", comment: "the drop" }),
    ).toMatchObject({ status: "ok" });
    await harness.json("createBookmark", { id: trackIds[0]!, position: "90000", comment: "later" });
    const json = await harness.json("getBookmarks");
    shapes("json").bookmarks.parse(json.bookmarks);
    const bookmarks = (json.bookmarks as { bookmark: Array<Record<string, unknown>> }).bookmark;
    expect(bookmarks).toHaveLength(1);
    expect(bookmarks[0]).toMatchObject({
      position: 90_000,
      comment: "later",
      username: "admin",
      entry: { id: trackIds[0], bookmarkPosition: 90_000 },
    });
    const xml = await harness.xml("getBookmarks");
    const parsed = shapes("xml").bookmarks.safeParse(xml.bookmarks);
    expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).toBe(true);
    // Another user's bookmarks are their own.
    expect(await harness.json("getBookmarks", {}, passwordAuth(USER))).toMatchObject({ bookmarks: {} });
    expect(await harness.json("deleteBookmark", { id: trackIds[0]! }, passwordAuth(USER))).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("deleteBookmark", { id: trackIds[0]! })).toMatchObject({ status: "ok" });
    expect(await harness.json("getBookmarks")).toMatchObject({ bookmarks: {} });
  });

  it("answers 10 for a missing id or position, 70 for an unknown song, 0 for a bad position", async () => {
    expect(await harness.json("createBookmark", { position: "1" })).toMatchObject({ error: { code: 10 } });
    expect(await harness.json("createBookmark", { id: trackIds[0]! })).toMatchObject({ error: { code: 10 } });
    expect(await harness.json("createBookmark", { id: "tr-nosuchtrack", position: "1" })).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("createBookmark", { id: albumId, position: "1" })).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("createBookmark", { id: trackIds[0]!, position: "-5" })).toMatchObject({
      error: { code: 0 },
    });
    expect(await harness.json("deleteBookmark", {})).toMatchObject({ error: { code: 10 } });
  });
});

describe("internet radio stations", () => {
  type Stations = {
    internetRadioStation?: Array<{ id: string; name: string; streamUrl: string; homePageUrl?: string }>;
  };
  const stations = async () =>
    (
      (await harness.json("getInternetRadioStations", {}, passwordAuth(USER)))
        .internetRadioStations as Stations
    ).internetRadioStation ?? [];

  it("administrators create, update and delete; everyone lists them in XML and JSON", async () => {
    expect(
      await harness.json("createInternetRadioStation", {
        name: "Night Drive",
        streamUrl: "https://radio.example/night.ogg",
        homepageUrl: "https://radio.example/",
      }),
    ).toMatchObject({ status: "ok" });
    const [station] = await stations();
    expect(station).toMatchObject({
      name: "Night Drive",
      streamUrl: "https://radio.example/night.ogg",
      homePageUrl: "https://radio.example/",
    });
    expect(station!.id).toMatch(/^rs-/);
    const xml = await harness.xml("getInternetRadioStations");
    expect(shapes("xml").internetRadioStations.safeParse(xml.internetRadioStations).success).toBe(true);
    shapes("json").internetRadioStations.parse(
      (await harness.json("getInternetRadioStations")).internetRadioStations,
    );
    await harness.json("updateInternetRadioStation", {
      id: station!.id,
      name: "Night Drive FM",
      streamUrl: "https://radio.example/fm.ogg",
    });
    expect(await stations()).toEqual([
      { id: station!.id, name: "Night Drive FM", streamUrl: "https://radio.example/fm.ogg" },
    ]);
    expect(await harness.json("deleteInternetRadioStation", { id: station!.id })).toMatchObject({
      status: "ok",
    });
    expect(await stations()).toEqual([]);
    expect(await harness.json("deleteInternetRadioStation", { id: station!.id })).toMatchObject({
      error: { code: 70 },
    });
  });

  it("refuses plain users (50), missing fields (10), unknown ids (70) and URLs that are not http(s) (0)", async () => {
    const user = passwordAuth(USER);
    for (const method of [
      "createInternetRadioStation",
      "updateInternetRadioStation",
      "deleteInternetRadioStation",
    ])
      expect(
        await harness.json(method, { id: "rs-x", name: "Mine", streamUrl: "https://x.example/" }, user),
        method,
      ).toMatchObject({ error: { code: 50 } });
    expect(await harness.json("createInternetRadioStation", { name: "No URL" })).toMatchObject({
      error: { code: 10 },
    });
    expect(
      await harness.json("createInternetRadioStation", { streamUrl: "https://x.example/" }),
    ).toMatchObject({
      error: { code: 10 },
    });
    expect(
      await harness.json("updateInternetRadioStation", {
        id: "rs-nosuch",
        name: "x",
        streamUrl: "https://x.example/",
      }),
    ).toMatchObject({ error: { code: 70 } });
    for (const streamUrl of ["javascript:alert(1)", "file:///etc/passwd", "nope"])
      expect(await harness.json("createInternetRadioStation", { name: "Bad", streamUrl })).toMatchObject({
        error: { code: 0 },
      });
    expect(await stations()).toEqual([]);
  });
});

describe("shares and their public page", () => {
  type Shares = {
    share?: Array<{
      id: string;
      url: string;
      description?: string;
      expires?: string;
      visitCount: number;
      entry?: Array<{ id: string }>;
    }>;
  };
  const sharesOf = async (auth?: Record<string, string>) =>
    ((await harness.json("getShares", {}, auth)).shares as Shares).share ?? [];

  it("shares an album as its songs: a public page anyone opens, whose songs stream as Ogg/Opus", async () => {
    const created = await harness.json("createShare", { id: albumId, description: "Listen <b>to this</b>" });
    shapes("json").shares.parse(created.shares);
    const [share] = (created.shares as Shares).share!;
    expect(share!.id).toMatch(/^sh-[A-Za-z0-9_-]{22}$/);
    expect(share!.entry?.map((entry) => entry.id)).toEqual(trackIds);
    expect(share!.url).toBe(`${harness.server.url}/share/${share!.id.slice(3)}`);
    const page = await fetch(share!.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain("Listen &lt;b&gt;to this&lt;/b&gt;");
    expect(html).toContain("Svefn-g-englar");
    expect(html).not.toContain("tr-");
    const audio = await fetch(`${share!.url}/0`);
    expect(audio.status).toBe(200);
    expect(audio.headers.get("content-type")).toBe("audio/ogg");
    const bytes = Buffer.from(await audio.arrayBuffer());
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("OggS");
    expect(bytes.includes(Buffer.from("OpusHead"))).toBe(true);
    // Only the shared songs: past the end is 404, and nothing else of the server opens without signing in.
    expect((await fetch(`${share!.url}/${trackIds.length}`)).status).toBe(404);
    expect((await fetch(`${share!.url}/..%2F..%2Frest%2Fping`)).status).toBe(404);
    const listed = (await sharesOf()).find((entry) => entry.id === share!.id)!;
    expect(listed.visitCount).toBe(1);
    const xml = await harness.xml("getShares");
    expect(shapes("xml").shares.safeParse(xml.shares).success).toBe(true);
  });

  it("an unknown share is 404, an expired one 410; updateShare sets the expiry; deleteShare ends it", async () => {
    expect((await fetch(`${harness.server.url}/share/${"A".repeat(22)}`)).status).toBe(404);
    expect((await fetch(`${harness.server.url}/share/not-a-share`)).status).toBe(404);
    const expires = Date.now() + 5_000;
    const created = await harness.json("createShare", { id: trackIds[0]!, expires: String(expires) });
    const [share] = (created.shares as Shares).share!;
    expect(Date.parse(share!.expires!)).toBe(expires);
    await waitUntil(
      () => fetch(share!.url).then((response) => response.status),
      (status) => status === 410,
      30_000,
      200,
    );
    expect((await fetch(`${share!.url}/0`)).status).toBe(410);
    expect(
      await harness.json("updateShare", { id: share!.id, expires: "0", description: "again" }),
    ).toMatchObject({
      status: "ok",
    });
    expect((await fetch(share!.url)).status).toBe(200);
    expect(await harness.json("deleteShare", { id: share!.id })).toMatchObject({ status: "ok" });
    expect((await fetch(share!.url)).status).toBe(404);
  });

  it("keeps shares to their owner, and answers 10, 70 and 0 for bad input", async () => {
    const created = await harness.json("createShare", { id: trackIds });
    const [share] = (created.shares as Shares).share!;
    const user = passwordAuth(USER);
    expect((await sharesOf(user)).map((entry) => entry.id)).not.toContain(share!.id);
    expect(await harness.json("deleteShare", { id: share!.id }, user)).toMatchObject({ error: { code: 70 } });
    expect(await harness.json("updateShare", { id: share!.id, description: "x" }, user)).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("createShare", {})).toMatchObject({ error: { code: 10 } });
    expect(await harness.json("createShare", { id: "tr-nosuchtrack" })).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("createShare", { id: artistId })).toMatchObject({ error: { code: 70 } });
    expect(await harness.json("createShare", { id: trackIds[0]!, expires: "1000" })).toMatchObject({
      error: { code: 0 },
    });
    expect(await harness.json("deleteShare", { id: "sh-short" })).toMatchObject({ error: { code: 70 } });
    expect(await harness.json("updateShare", {})).toMatchObject({ error: { code: 10 } });
    expect(await harness.json("deleteShare", { id: share!.id })).toMatchObject({ status: "ok" });
  });
});

describe("the transcoding extension", () => {
  const run = promisify(execFile);
  type Decision = {
    canDirectPlay: boolean;
    canTranscode: boolean;
    transcodeReason?: string[];
    errorReason?: string;
    transcodeParams?: string;
    sourceStream?: { container: string; codec: string };
    transcodeStream?: { container: string; codec: string; audioBitrate: number; protocol: string };
  };
  const restUrl = (method: string, params: Record<string, string>, auth = passwordAuth()) =>
    `${harness.server.url}/rest/${method}?${new URLSearchParams({ v: "1.16.1", c: "transcoding", ...auth, ...params })}`;
  const decide = async (
    params: Record<string, string>,
    body: unknown,
    options: { format?: "json" | "xml"; auth?: Record<string, string> } = {},
  ) => {
    const format = options.format ?? "json";
    const response = await fetch(
      restUrl(
        "getTranscodeDecision",
        { ...params, ...(format === "json" ? { f: "json" } : {}) },
        options.auth,
      ),
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    );
    return format === "json"
      ? ((await response.json()) as { "subsonic-response": Record<string, unknown> })["subsonic-response"]
      : await response.text();
  };
  const decisionOf = async (mediaId: string, body: unknown) =>
    ((await decide({ mediaId, mediaType: "song" }, body)) as { transcodeDecision: Decision })
      .transcodeDecision;
  const mp3Only = {
    name: "car",
    platform: "test",
    directPlayProfiles: [{ containers: ["mp3"], audioCodecs: ["mp3"], protocols: ["http"] }],
  };
  let source: { id: string; suffix: string };

  beforeAll(async () => {
    // The album's first song: a FLAC file, which a client that plays only MP3 cannot play directly.
    const { song } = (await harness.json("getSong", { id: trackIds[0]! })) as { song: { suffix: string } };
    source = { id: trackIds[0]!, suffix: song.suffix };
    expect(source.suffix).toBe("flac");
  });

  async function probe(bytes: Uint8Array): Promise<{ codec: string; bitRate: number }> {
    const dir = mkdtempSync(join(tmpdir(), "soundmesh-transcoding-"));
    const file = join(dir, "stream");
    writeFileSync(file, bytes);
    try {
      const { stdout } = await run("ffprobe", [
        ...["-v", "error", "-show_entries", "stream=codec_name:format=bit_rate", "-of", "json", file],
      ]);
      const parsed = JSON.parse(stdout) as {
        streams: Array<{ codec_name: string }>;
        format: { bit_rate: string };
      };
      return { codec: parsed.streams[0]!.codec_name, bitRate: Number(parsed.format.bit_rate) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("is listed among the extensions", async () => {
    const { openSubsonicExtensions } = (await harness.json("getOpenSubsonicExtensions")) as {
      openSubsonicExtensions: Array<{ name: string; versions: number[] }>;
    };
    expect(openSubsonicExtensions).toContainEqual({ name: "transcoding", versions: [1] });
  });

  it("lets a client that plays the source's container play it directly (raw)", async () => {
    const decision = await decisionOf(source.id, {
      name: "desktop",
      platform: "test",
      directPlayProfiles: [{ container: source.suffix, audioCodec: "", protocol: "*" }],
    });
    expect(decision).toMatchObject({ canDirectPlay: true, transcodeParams: "raw" });
    expect(decision.sourceStream?.container).toBe(source.suffix);
    const stream = await fetch(
      restUrl("getTranscodeStream", { mediaId: source.id, mediaType: "song", transcodeParams: "raw" }),
    );
    expect(stream.status).toBe(200);
    const download = await fetch(restUrl("download", { id: source.id }));
    expect((await stream.arrayBuffer()).byteLength).toBe((await download.arrayBuffer()).byteLength);
  });

  it("transcodes to the first profile it can make, under the client's bitrate caps; the stream decodes so", async () => {
    const decision = await decisionOf(source.id, {
      ...mp3Only,
      maxTranscodingAudioBitrate: 128_000,
      transcodingProfiles: [
        { container: "aac", audioCodec: "aac", protocol: "http" },
        { container: "mp3", audioCodec: "mp3", protocol: "http" },
      ],
    });
    shapes("json").transcodeDecision.parse(decision);
    expect(decision).toMatchObject({
      canDirectPlay: false,
      canTranscode: true,
      transcodeParams: "mp3.128",
      transcodeStream: { protocol: "http", container: "mp3", codec: "mp3", audioBitrate: 128_000 },
    });
    expect(decision.transcodeReason).toEqual([
      source.suffix === "mp3" ? "AudioBitrateNotSupported" : "ContainerNotSupported",
    ]);
    const stream = await fetch(
      restUrl("getTranscodeStream", {
        mediaId: source.id,
        mediaType: "song",
        transcodeParams: decision.transcodeParams!,
      }),
    );
    expect(stream.headers.get("content-type")).toBe("audio/mpeg");
    const decoded = await probe(new Uint8Array(await stream.arrayBuffer()));
    expect(decoded.codec).toBe("mp3");
    expect(Math.abs(decoded.bitRate - 128_000)).toBeLessThan(16_000);
  });

  it("reads the earlier draft's shapes (comma lists, one limitation value) and serves our WebM renditions", async () => {
    const capped = await decisionOf(source.id, {
      ...mp3Only,
      transcodingProfiles: [{ container: "ogg", audioCodec: "vorbis,opus", protocol: "http" }],
      codecProfiles: [
        {
          type: "AudioCodec",
          name: "opus",
          limitations: [
            { name: "audioBitrate", comparison: "LessThanEqual", value: "64000", required: true },
          ],
        },
      ],
    });
    expect(capped).toMatchObject({ canTranscode: true, transcodeParams: "opus.64" });
    const webm = await decisionOf(source.id, {
      ...mp3Only,
      transcodingProfiles: [
        { container: "flac", audioCodec: "flac", protocol: "hls" },
        { containers: ["webm"], audioCodecs: ["opus"], protocols: [] },
      ],
    });
    expect(webm).toMatchObject({ canTranscode: true, transcodeParams: "webm.160" });
    const stream = await fetch(
      restUrl("getTranscodeStream", { mediaId: source.id, mediaType: "song", transcodeParams: "webm.160" }),
    );
    expect(stream.headers.get("content-type")).toMatch(/^audio\/webm/);
    expect((await probe(new Uint8Array(await stream.arrayBuffer()))).codec).toBe("opus");
    const none = await decisionOf(source.id, {
      ...mp3Only,
      transcodingProfiles: [{ container: "mp4", audioCodec: "aac", protocol: "http" }],
    });
    expect(none).toMatchObject({ canDirectPlay: false, canTranscode: false });
    expect(none.errorReason).toBeTruthy();
    const xml = await decide({ mediaId: source.id, mediaType: "song" }, mp3Only, { format: "xml" });
    expect(xml).toMatch(/<transcodeDecision canDirectPlay="(true|false)" canTranscode="false"/);
  });

  it("answers 10, 70, 0 and 40 for missing, unknown, malformed and unauthenticated requests", async () => {
    const code = (response: unknown) => (response as { error?: { code: number } }).error?.code;
    expect(code(await harness.json("getTranscodeDecision", { mediaId: source.id, mediaType: "song" }))).toBe(
      10,
    );
    expect(code(await decide({ mediaType: "song" }, mp3Only))).toBe(10);
    expect(code(await decide({ mediaId: "tr-nosuchtrack", mediaType: "song" }, mp3Only))).toBe(70);
    expect(code(await decide({ mediaId: source.id, mediaType: "podcast" }, mp3Only))).toBe(70);
    expect(code(await decide({ mediaId: source.id }, { directPlayProfiles: "everything" }))).toBe(0);
    expect(
      code(await decide({ mediaId: source.id }, mp3Only, { auth: { u: ADMIN.name, p: "wrong password" } })),
    ).toBe(40);
    const stream = (params: Record<string, string>) =>
      harness.json("getTranscodeStream", { mediaType: "song", ...params });
    expect(code(await stream({ mediaId: source.id }))).toBe(10);
    expect(code(await stream({ transcodeParams: "raw" }))).toBe(10);
    expect(code(await stream({ mediaId: source.id, transcodeParams: "flac.999" }))).toBe(0);
    expect(code(await stream({ mediaId: source.id, transcodeParams: "mp3.100" }))).toBe(0);
    expect(code(await stream({ mediaId: "tr-nosuchtrack", transcodeParams: "raw" }))).toBe(70);
    expect(code(await stream({ mediaId: source.id, transcodeParams: "raw", offset: "999999" }))).toBe(0);
  });
});
