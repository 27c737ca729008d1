// The OpenSubsonic API's writes and media against a real server: stars, ratings, scrobbles, playlists (pushed live
// to a web client), the play queue, users, scans; streams decoded by ffprobe, ranges, cover art and lyrics.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventsContract, playlistContract } from "@soundmesh/protocol";
import { waitUntil } from "@soundmesh/test-kit";
import { ADMIN, USER, passwordAuth, startHarness, type Harness } from "./harness";
import { shapes } from "./schemas";

const run = promisify(execFile);
let harness: Harness;
let lyricsDir: string;
let albumId: string;
let trackIds: string[];
let sungId: string;
let embeddedId: string;
/** Five minutes long: its Opus rendition takes long enough to make that a stream of it starts while it grows. */
let longId: string;

const LRC =
  "[ar:Lyricist]\n[ti:Sung Words]\n[00:00.50]First line\n[00:01.75]Second line\n[00:03.00]Last line\n";

async function ffmpeg(args: string[]) {
  await run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
}

async function probe(
  bytes: Uint8Array,
): Promise<{ codec: string; format: string; durationS: number; bitRate: number }> {
  const file = join(lyricsDir, `probe-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, bytes);
  try {
    const { stdout } = await run("ffprobe", [
      ...["-v", "error", "-show_entries", "stream=codec_name:format=format_name,duration,bit_rate"],
      ...["-of", "json", file],
    ]);
    const parsed = JSON.parse(stdout) as {
      streams: Array<{ codec_name: string }>;
      format: { format_name: string; duration: string; bit_rate: string };
    };
    return {
      codec: parsed.streams[0]!.codec_name,
      format: parsed.format.format_name,
      durationS: Number(parsed.format.duration),
      bitRate: Number(parsed.format.bit_rate),
    };
  } finally {
    rmSync(file, { force: true });
  }
}

/** When the last audio packet of these bytes starts, in seconds (ffprobe reads every packet). */
async function lastPacketSeconds(bytes: Uint8Array): Promise<number> {
  const file = join(lyricsDir, `packets-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, bytes);
  try {
    const { stdout } = await run(
      "ffprobe",
      ["-v", "error", "-select_streams", "a", "-show_entries", "packet=pts_time", "-of", "csv=p=0", file],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const times = stdout
      .split("\n")
      .map((line) => Number.parseFloat(line))
      .filter(Number.isFinite);
    return times.length === 0 ? Number.NaN : Math.max(...times);
  } finally {
    rmSync(file, { force: true });
  }
}

beforeAll(async () => {
  lyricsDir = mkdtempSync(join(tmpdir(), "soundmesh-subsonic-lyrics-"));
  const folder = join(lyricsDir, "Lyrics", "Lyricist", "Words");
  mkdirSync(folder, { recursive: true });
  const tone = ["-f", "lavfi", "-i", "sine=frequency=500:duration=6"];
  const pairs = (title: string, track: string) => [
    ["artist", "Lyricist"],
    ["album_artist", "Lyricist"],
    ["album", "Words"],
    ["title", title],
    ["track", track],
  ];
  const metadata = (title: string, track: string) =>
    pairs(title, track).flatMap(([key, value]) => ["-metadata", `${key}=${value}`]);
  await ffmpeg([
    ...tone,
    "-c:a",
    "libmp3lame",
    "-b:a",
    "192k",
    ...metadata("Sung Words", "1"),
    join(folder, "01 Sung Words.mp3"),
  ]);
  writeFileSync(join(folder, "01 Sung Words.lrc"), LRC);
  await ffmpeg([
    ...tone,
    "-c:a",
    "flac",
    ...metadata("Embedded Words", "2"),
    "-metadata",
    "LYRICS=Tagged line one\nTagged line two",
    join(folder, "02 Embedded Words.flac"),
  ]);
  const longFolder = join(lyricsDir, "Lyrics", "Lyricist", "Long Tone");
  mkdirSync(longFolder, { recursive: true });
  await ffmpeg([
    ...["-f", "lavfi", "-i", "sine=frequency=330:duration=300"],
    ...["-c:a", "flac", "-metadata", "artist=Lyricist", "-metadata", "album=Long Tone"],
    ...["-metadata", "title=Long Tone", join(longFolder, "01 Long Tone.flac")],
  ]);
  harness = await startHarness({ folder: join(lyricsDir, "Lyrics"), audioFiles: 3 });
  const list = await harness.json("getAlbumList2", { type: "alphabeticalByName", size: "500" });
  const albums = (list.albumList2 as { album: Array<{ id: string; name: string }> }).album;
  albumId = albums.find((album) => album.name === "Ágætis byrjun")!.id;
  trackIds = (
    (await harness.json("getAlbum", { id: albumId })).album as { song: Array<{ id: string }> }
  ).song.map((song) => song.id);
  const words = albums.find((album) => album.name === "Words")!.id;
  const songs = (
    (await harness.json("getAlbum", { id: words })).album as { song: Array<{ id: string; title: string }> }
  ).song;
  sungId = songs.find((song) => song.title === "Sung Words")!.id;
  embeddedId = songs.find((song) => song.title === "Embedded Words")!.id;
  const longAlbum = albums.find((album) => album.name === "Long Tone")!.id;
  longId = ((await harness.json("getAlbum", { id: longAlbum })).album as { song: Array<{ id: string }> })
    .song[0]!.id;
}, 180_000);
afterAll(async () => {
  await harness?.close();
  if (lyricsDir) rmSync(lyricsDir, { recursive: true, force: true });
});

describe("annotation", () => {
  it("stars, rates and unstars songs, albums and artists; getStarred2 and the records say so", async () => {
    const song = trackIds[0]!;
    expect(await harness.json("star", { id: song, albumId })).toMatchObject({ status: "ok" });
    expect(await harness.json("setRating", { id: albumId, rating: "4" })).toMatchObject({ status: "ok" });
    const starred = (await harness.json("getStarred2")).starred2 as Record<string, Array<{ id: string }>>;
    shapes("json").starred2.parse(starred);
    expect(starred.song!.map((entry) => entry.id)).toContain(song);
    expect(starred.album!.map((entry) => entry.id)).toContain(albumId);
    const xml = await harness.xml("getStarred2");
    shapes("xml").starred2.parse(xml.starred2);
    const album = (await harness.json("getAlbum", { id: albumId })).album as {
      userRating: number;
      starred: string;
    };
    expect(album.userRating).toBe(4);
    expect(Date.parse(album.starred)).toBeGreaterThan(0);
    const highest = (await harness.json("getAlbumList2", { type: "highest" })).albumList2 as {
      album: Array<{ id: string }>;
    };
    expect(highest.album.map((entry) => entry.id)).toEqual([albumId]);
    await harness.json("unstar", { id: song });
    await harness.json("setRating", { id: albumId, rating: "0" });
    const after = (await harness.json("getStarred2")).starred2 as { song?: Array<{ id: string }> };
    expect(after.song ?? []).toHaveLength(0);
    expect(
      ((await harness.json("getAlbum", { id: albumId })).album as { userRating?: number }).userRating,
    ).toBeUndefined();
  });

  it("refuses a rating out of range (0), an unknown id (70) and a missing id (10), changing nothing", async () => {
    expect(await harness.json("setRating", { id: albumId, rating: "6" })).toMatchObject({
      error: { code: 0 },
    });
    expect(await harness.json("star", { id: "tr-nosuchtrack" })).toMatchObject({ error: { code: 70 } });
    expect(await harness.json("star", {})).toMatchObject({ error: { code: 10 } });
    expect(await harness.json("setRating", { id: albumId })).toMatchObject({ error: { code: 10 } });
  });

  it("a scrobble in progress shows in getNowPlaying; a submitted one counts a play in the events service", async () => {
    const song = trackIds[1]!;
    await harness.json("scrobble", { id: song, submission: "false" });
    const now = (await harness.json("getNowPlaying")).nowPlaying as {
      entry: Array<{ id: string; username: string }>;
    };
    shapes("json").nowPlaying.parse(now);
    expect(now.entry).toContainEqual(expect.objectContaining({ id: song, username: ADMIN.name }));
    const before = ((await harness.json("getSong", { id: song })).song as { playCount: number }).playCount;
    await harness.json("scrobble", { id: song, time: String(Date.now()) });
    const after = ((await harness.json("getSong", { id: song })).song as { playCount: number }).playCount;
    expect(after).toBe(before + 1);
    const recent = (await harness.json("getAlbumList2", { type: "recent" })).albumList2 as {
      album: Array<{ id: string }>;
    };
    expect(recent.album.map((album) => album.id)).toContain(albumId);
    const frequent = (await harness.json("getAlbumList2", { type: "frequent" })).albumList2 as {
      album: Array<{ id: string }>;
    };
    expect(frequent.album.map((album) => album.id)).toContain(albumId);
  });

  it("reportPlayback feeds now playing and ends it when stopped", async () => {
    await harness.json("reportPlayback", { mediaId: sungId, state: "playing", positionMs: "1000" });
    const playing = (await harness.json("getNowPlaying")).nowPlaying as { entry: Array<{ id: string }> };
    expect(playing.entry.map((entry) => entry.id)).toContain(sungId);
    await harness.json("reportPlayback", { mediaId: sungId, state: "stopped" });
    const stopped = (await harness.json("getNowPlaying")).nowPlaying as { entry?: Array<{ id: string }> };
    expect((stopped.entry ?? []).map((entry) => entry.id)).not.toContain(sungId);
  });
});

describe("playlists", () => {
  it("creates, edits and deletes a playlist; a web client subscribed to it gets each edit pushed", async () => {
    const created = (await harness.json("createPlaylist", { name: "Road trip", songId: trackIds }))
      .playlist as {
      id: string;
      entry: Array<{ id: string }>;
      songCount: number;
    };
    shapes("json").playlistWithEntries.parse(created);
    expect(created.entry.map((entry) => entry.id)).toEqual(trackIds);
    const ourId = created.id.replace(/^pl-/, "");
    const subscribed = harness.adminWs.waitFor(
      (frame) => frame.t === "res" && frame.id === `sub:playlist.${ourId}`,
    );
    harness.adminWs.sendRaw(JSON.stringify({ t: "sub", topic: `playlist.${ourId}` }));
    await subscribed;
    const pushed = harness.adminWs.waitFor(
      (frame) => frame.t === "push" && frame.topic === `playlist.${ourId}`,
      10_000,
    );
    expect(
      await harness.json("updatePlaylist", {
        playlistId: created.id,
        name: "Road trip 2",
        comment: "for the car",
        songIndexToRemove: "0",
        songIdToAdd: [sungId, embeddedId],
      }),
    ).toMatchObject({ status: "ok" });
    const push = (await pushed) as { data: { revision: number } };
    expect(push.data.revision).toBeGreaterThan(0);
    const got = (await harness.json("getPlaylist", { id: created.id })).playlist as {
      name: string;
      comment: string;
      entry: Array<{ id: string }>;
    };
    expect(got).toMatchObject({ name: "Road trip 2", comment: "for the car" });
    expect(got.entry.map((entry) => entry.id)).toEqual([trackIds[1], sungId, embeddedId]);
    const xml = await harness.xml("getPlaylist", { id: created.id });
    shapes("xml").playlistWithEntries.parse(xml.playlist);
    const snapshot = await harness.adminWs.call(playlistContract, "get", {
      playlistId: ourId,
    });
    expect(snapshot.items).toHaveLength(3);
    // With playlistId, createPlaylist replaces the songs.
    await harness.json("createPlaylist", { playlistId: created.id, songId: [embeddedId] });
    const replaced = (await harness.json("getPlaylist", { id: created.id })).playlist as {
      entry: Array<{ id: string }>;
    };
    expect(replaced.entry.map((entry) => entry.id)).toEqual([embeddedId]);
    const lists = (await harness.json("getPlaylists")).playlists as { playlist: Array<{ id: string }> };
    expect(lists.playlist.map((playlist) => playlist.id)).toContain(created.id);
    expect(await harness.json("deletePlaylist", { id: created.id })).toMatchObject({ status: "ok" });
    expect(await harness.json("getPlaylist", { id: created.id })).toMatchObject({ error: { code: 70 } });
  });

  it("refuses an unknown song (70) and an index past the end (70), and another user's private playlist is not found", async () => {
    expect(await harness.json("createPlaylist", { name: "x", songId: "tr-nosuchtrack" })).toMatchObject({
      error: { code: 70 },
    });
    const created = (await harness.json("createPlaylist", { name: "Mine", songId: trackIds[0]! }))
      .playlist as { id: string };
    expect(
      await harness.json("updatePlaylist", { playlistId: created.id, songIndexToRemove: "5" }),
    ).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("getPlaylist", { id: created.id }, passwordAuth(USER))).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("deletePlaylist", { id: created.id }, passwordAuth(USER))).toMatchObject({
      status: "failed",
    });
    expect(await harness.json("createPlaylist", {})).toMatchObject({ error: { code: 10 } });
  });
});

describe("play queue", () => {
  it("saves and loads the queue by id and by index, shared with the web player's saved queue", async () => {
    await harness.json("savePlayQueue", { id: trackIds, current: trackIds[1]!, position: "1500" });
    const queue = (await harness.json("getPlayQueue")).playQueue as Record<string, unknown>;
    shapes("json").playQueue.parse(queue);
    expect(queue).toMatchObject({ current: trackIds[1], position: 1500, username: ADMIN.name });
    const saved = await harness.adminWs.call(eventsContract, "loadQueue");
    expect(saved).toMatchObject({ currentIndex: 1, positionMs: 1500 });
    await harness.json("savePlayQueueByIndex", {
      id: [sungId, embeddedId],
      currentIndex: "1",
      position: "10",
    });
    const byIndex = (await harness.json("getPlayQueueByIndex")).playQueueByIndex as Record<string, unknown>;
    shapes("json").playQueueByIndex.parse(byIndex);
    expect(byIndex).toMatchObject({ currentIndex: 1, position: 10 });
    shapes("xml").playQueueByIndex.parse((await harness.xml("getPlayQueueByIndex")).playQueueByIndex);
    expect(await harness.json("savePlayQueueByIndex", { id: sungId, currentIndex: "3" })).toMatchObject({
      error: { code: 0 },
    });
    expect(await harness.json("savePlayQueue", { id: sungId, current: embeddedId })).toMatchObject({
      error: { code: 0 },
    });
  });
});

describe("users and scanning", () => {
  it("an admin creates a user who signs in with that password, changes it, makes them admin, and deletes (disables) them", async () => {
    expect(
      await harness.json("createUser", {
        username: "carl",
        password: "carl's password",
        email: "c@example.org",
      }),
    ).toMatchObject({
      status: "ok",
    });
    expect(await harness.json("ping", {}, { u: "carl", p: "carl's password" })).toMatchObject({
      status: "ok",
    });
    await harness.json("changePassword", {
      username: "carl",
      password: `enc:${Buffer.from("carl's new one").toString("hex")}`,
    });
    expect(await harness.json("ping", {}, { u: "carl", p: "carl's password" })).toMatchObject({
      error: { code: 40 },
    });
    expect(await harness.json("ping", {}, { u: "carl", p: "carl's new one" })).toMatchObject({
      status: "ok",
    });
    await harness.json("updateUser", { username: "carl", adminRole: "true" });
    const carl = (await harness.json("getUser", { username: "carl" })).user as { adminRole: boolean };
    expect(carl.adminRole).toBe(true);
    await harness.json("deleteUser", { username: "carl" });
    await waitUntil(
      () => harness.json("ping", {}, { u: "carl", p: "carl's new one" }),
      (answer) => (answer.error as { code?: number } | undefined)?.code === 40,
      10_000,
    );
    expect(
      await harness.json("createUser", { username: "carl", password: "another password" }),
    ).toMatchObject({ status: "failed" });
    expect(await harness.json("updateUser", { username: "nobody-here" })).toMatchObject({
      error: { code: 70 },
    });
  });

  it("a plain user changes their own Subsonic password", async () => {
    await harness.json(
      "changePassword",
      { username: USER.name, password: "bea's newer pw" },
      passwordAuth(USER),
    );
    expect(await harness.json("ping", {}, { u: USER.name, p: "bea's newer pw" })).toMatchObject({
      status: "ok",
    });
    await harness.json(
      "changePassword",
      { username: USER.name, password: USER.subsonic },
      { u: USER.name, p: "bea's newer pw" },
    );
  });

  it("startScan starts a scan and getScanStatus follows it to its end", async () => {
    const before = Date.now();
    const started = (await harness.json("startScan")).scanStatus as { scanning: boolean };
    shapes("json").scanStatus.parse(started);
    const done = await waitUntil(
      async () =>
        (await harness.json("getScanStatus", {}, passwordAuth(USER))).scanStatus as {
          scanning: boolean;
          lastScan?: string;
        },
      (status) => !status.scanning && Date.parse(status.lastScan ?? "") >= before - 1_000,
      30_000,
    );
    shapes("xml").scanStatus.parse((await harness.xml("getScanStatus")).scanStatus);
    expect(done.scanning).toBe(false);
  });
});

describe("media", () => {
  const bytesOf = async (
    method: string,
    params: Record<string, string>,
    headers: Record<string, string> = {},
  ) => {
    const url = new URL(`${harness.server.url}/rest/${method}`);
    for (const [name, value] of Object.entries({ v: "1.16.1", c: "test", ...passwordAuth(), ...params }))
      url.searchParams.set(name, value);
    const response = await fetch(url, { headers });
    return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
  };

  it("streams the original by default and with format=raw, the same bytes as download, with ranges", async () => {
    const plain = await bytesOf("stream", { id: sungId });
    expect(plain.response.headers.get("content-type")).toBe("audio/mpeg");
    const raw = await bytesOf("stream", { id: sungId, format: "raw" });
    const download = await bytesOf("download", { id: sungId });
    expect(Buffer.from(plain.bytes).equals(Buffer.from(download.bytes))).toBe(true);
    expect(Buffer.from(raw.bytes).equals(Buffer.from(download.bytes))).toBe(true);
    expect(download.response.headers.get("content-disposition")).toContain("Sung%20Words.mp3");
    const part = await bytesOf("download", { id: sungId }, { range: "bytes=100-199" });
    expect(part.response.status).toBe(206);
    expect(part.response.headers.get("content-range")).toBe(`bytes 100-199/${download.bytes.length}`);
    expect(Buffer.from(part.bytes).equals(Buffer.from(download.bytes.subarray(100, 200)))).toBe(true);
    const beyond = await bytesOf(
      "download",
      { id: sungId },
      { range: `bytes=${download.bytes.length + 5}-` },
    );
    expect(beyond.response.status).toBe(416);
  });

  it("transcodes to MP3 at the bitrate asked, and to Opus in Ogg; both decode", async () => {
    const mp3 = await bytesOf("stream", { id: embeddedId, format: "mp3", maxBitRate: "128" });
    expect(mp3.response.headers.get("content-type")).toBe("audio/mpeg");
    const mp3Probe = await probe(mp3.bytes);
    expect(mp3Probe.codec).toBe("mp3");
    expect(Math.round(mp3Probe.bitRate / 1000)).toBeGreaterThanOrEqual(120);
    expect(Math.round(mp3Probe.bitRate / 1000)).toBeLessThanOrEqual(136);
    expect(mp3Probe.durationS).toBeGreaterThan(5.5);
    const opus = await bytesOf("stream", { id: embeddedId, format: "opus", maxBitRate: "64" });
    expect(opus.response.headers.get("content-type")).toBe("audio/ogg");
    const opusProbe = await probe(opus.bytes);
    expect(opusProbe).toMatchObject({ codec: "opus", format: "ogg" });
    // An original over the cap is transcoded to MP3 under it when no format is named; under the cap it is sent as it is.
    const { bitRate } = (await harness.json("getSong", { id: sungId })).song as { bitRate: number };
    const capped = await probe(
      (await bytesOf("stream", { id: sungId, maxBitRate: String(bitRate - 64) })).bytes,
    );
    expect(capped).toMatchObject({ codec: "mp3" });
    expect(Math.round(capped.bitRate / 1000)).toBeLessThanOrEqual(bitRate - 64 + 8);
    const uncapped = await bytesOf("stream", { id: sungId, maxBitRate: String(bitRate + 64) });
    expect(uncapped.bytes.length).toBe((await bytesOf("download", { id: sungId })).bytes.length);
  });

  it("timeOffset starts the transcode where asked", async () => {
    const whole = await probe(
      (await bytesOf("stream", { id: embeddedId, format: "mp3", maxBitRate: "160" })).bytes,
    );
    const later = await probe(
      (await bytesOf("stream", { id: embeddedId, format: "mp3", maxBitRate: "160", timeOffset: "4" })).bytes,
    );
    expect(whole.durationS).toBeGreaterThan(5.5);
    expect(later.durationS).toBeGreaterThan(1.5);
    expect(later.durationS).toBeLessThan(2.6);
    expect(await harness.json("stream", { id: embeddedId, format: "mp3", timeOffset: "60" })).toMatchObject({
      error: { code: 0 },
    });
  });

  it("serves a finished transcode from its cache, with Range", async () => {
    const first = await bytesOf("stream", { id: trackIds[0]!, format: "mp3", maxBitRate: "112" });
    const part = await waitUntil(
      () =>
        bytesOf("stream", { id: trackIds[0]!, format: "mp3", maxBitRate: "112" }, { range: "bytes=0-99" }),
      (answer) => answer.response.status === 206,
      10_000,
    );
    expect(Buffer.from(part.bytes).equals(Buffer.from(first.bytes.subarray(0, 100)))).toBe(true);
  });

  it("format=webm serves the web player's Opus rendition", async () => {
    const webm = await bytesOf("stream", { id: sungId, format: "webm", maxBitRate: "96" });
    expect(webm.response.headers.get("content-type")).toContain("webm");
    expect(await probe(webm.bytes)).toMatchObject({ codec: "opus" });
  });

  it("format=webm of a track never transcoded starts while its rendition is made, then serves it with Range", async () => {
    // opus160 is not transcoded ahead: this request starts it. Its pieces come as ffmpeg makes them, so the answer
    // cannot say its length.
    const growing = await bytesOf("stream", { id: longId, format: "webm" });
    expect(growing.response.status).toBe(200);
    expect(growing.response.headers.get("content-length")).toBeNull();
    expect(await probe(growing.bytes)).toMatchObject({ codec: "opus" });
    // A rendition's header carries no duration (the player takes the catalog's): the last packet's time says it.
    const lastPacketS = await lastPacketSeconds(growing.bytes);
    expect(lastPacketS).toBeGreaterThan(298);
    expect(lastPacketS).toBeLessThan(302);
    // Finished now: the same bytes with their length, and ranges of them.
    const finished = await bytesOf("stream", { id: longId, format: "webm" });
    expect(finished.response.headers.get("content-length")).toBe(String(growing.bytes.length));
    expect(Buffer.from(finished.bytes).equals(Buffer.from(growing.bytes))).toBe(true);
    const part = await bytesOf("stream", { id: longId, format: "webm" }, { range: "bytes=100-199" });
    expect(part.response.status).toBe(206);
    expect(part.response.headers.get("content-range")).toBe(`bytes 100-199/${growing.bytes.length}`);
    expect(Buffer.from(part.bytes).equals(Buffer.from(growing.bytes.subarray(100, 200)))).toBe(true);
    const beyond = await bytesOf(
      "stream",
      { id: longId, format: "webm" },
      { range: `bytes=${growing.bytes.length + 10}-` },
    );
    expect(beyond.response.status).toBe(416);
  }, 60_000);

  it("answers cover art at the size asked, by album, song or artist; none is not found", async () => {
    const cover = await bytesOf("getCoverArt", { id: albumId, size: "64" });
    expect(cover.response.headers.get("content-type")).toMatch(/^image\//);
    const file = join(lyricsDir, "cover.img");
    writeFileSync(file, cover.bytes);
    const { stdout } = await run("ffprobe", [
      "-v",
      "error",
      "-show_entries",
      "stream=width,height",
      "-of",
      "csv=p=0",
      file,
    ]);
    expect(stdout.trim()).toBe("64,64");
    expect((await bytesOf("getCoverArt", { id: trackIds[0]! })).response.headers.get("content-type")).toMatch(
      /^image\//,
    );
    expect(await harness.json("getCoverArt", { id: sungId })).toMatchObject({ error: { code: 70 } });
    expect(await harness.json("getAvatar", { username: ADMIN.name })).toMatchObject({ error: { code: 70 } });
    expect(await harness.json("stream", { id: albumId })).toMatchObject({ error: { code: 70 } });
  });
});

describe("lyrics", () => {
  it("getLyricsBySongId reads a sidecar .lrc as synced lines, and embedded lyrics as plain lines", async () => {
    const sung = (await harness.json("getLyricsBySongId", { id: sungId })).lyricsList as Record<
      string,
      unknown
    >;
    shapes("json").lyricsList.parse(sung);
    expect(sung.structuredLyrics).toEqual([
      expect.objectContaining({
        synced: true,
        line: [
          { start: 500, value: "First line" },
          { start: 1750, value: "Second line" },
          { start: 3000, value: "Last line" },
        ],
      }),
    ]);
    const xml = await harness.xml("getLyricsBySongId", { id: sungId });
    shapes("xml").lyricsList.parse(xml.lyricsList);
    const embedded = (await harness.json("getLyricsBySongId", { id: embeddedId })).lyricsList as {
      structuredLyrics: Array<{ synced: boolean; line: Array<{ value: string }> }>;
    };
    expect(embedded.structuredLyrics[0]).toMatchObject({ synced: false });
    expect(embedded.structuredLyrics[0]!.line.map((line) => line.value)).toEqual([
      "Tagged line one",
      "Tagged line two",
    ]);
    const none = (await harness.json("getLyricsBySongId", { id: trackIds[0]! })).lyricsList as {
      structuredLyrics?: unknown[];
    };
    expect(none.structuredLyrics ?? []).toHaveLength(0);
  });

  it("getLyrics finds the song by artist and title", async () => {
    const lyrics = (await harness.json("getLyrics", { artist: "Lyricist", title: "Sung Words" }))
      .lyrics as Record<string, unknown>;
    shapes("json").lyrics.parse(lyrics);
    expect(lyrics).toMatchObject({
      artist: "Lyricist",
      title: "Sung Words",
      value: "First line\nSecond line\nLast line",
    });
  });
});
