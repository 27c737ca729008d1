// M3U/XSPF import (matched by path as text, then by tags, with a report) and export; smart playlists that follow
// the catalog. On SQLite and PostgreSQL.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseM3u, parseXspf } from "@soundmesh/service-playlist";
import { dbTargets } from "@soundmesh/test-kit";
import { libraryRoot, preparePlaylistDb, startHarness, trackRowOf, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

describe("playlist file parsing", () => {
  it("reads M3U paths with their #EXTINF duration, artist and title; ignores other comments", () => {
    const text =
      '\uFEFF#EXTM3U\r\n#PLAYLIST:x\r\n#EXTINF:284 tvg-id="1",Radiohead - Airbag\r\nA/b.mp3\r\n\r\nplain.flac\r\n#EXTINF:-1,Only a title\r\nc.ogg';
    expect(parseM3u(text)).toEqual([
      { path: "A/b.mp3", artist: "Radiohead", title: "Airbag", durationMs: 284_000 },
      { path: "plain.flac", artist: null, title: null, durationMs: null },
      { path: "c.ogg", artist: null, title: "Only a title", durationMs: null },
    ]);
    expect(parseM3u("")).toEqual([]);
  });

  it("reads XSPF tracks with entities, CDATA and namespace prefixes; refuses what is not XSPF", () => {
    const text = `<?xml version="1.0"?><x:playlist xmlns:x="http://xspf.org/ns/0/"><x:trackList>
      <x:track><x:location>file:///music/AC%2FDC/Back%20in%20Black.mp3</x:location>
        <x:creator>AC&amp;DC &#38; friends</x:creator><x:title><![CDATA[Back <in> Black]]></x:title>
        <x:duration>255000</x:duration></x:track>
      <x:track><x:title>No location</x:title></x:track>
    </x:trackList></x:playlist>`;
    expect(parseXspf(text)).toEqual([
      {
        path: "file:///music/AC%2FDC/Back%20in%20Black.mp3",
        artist: "AC&DC & friends",
        title: "Back <in> Black",
        durationMs: 255_000,
      },
      { path: null, artist: null, title: "No location", durationMs: null },
    ]);
    expect(() => parseXspf("#EXTM3U\nfoo.mp3")).toThrow(/Not an XSPF/);
  });
});

describe("playlist file parsing of hostile input", () => {
  it("stays linear on openings without closings, endless attributes and digit runs; odd entities stay text", () => {
    const started = performance.now();
    expect(parseXspf(`<playlist>${"<track>".repeat(120_000)}`)).toEqual([]);
    expect(parseXspf(`<playlist><track>${"<title>".repeat(120_000)}</track>`)).toEqual([
      { path: null, artist: null, title: null, durationMs: null },
    ]);
    expect(parseXspf(`<playlist>${"<track ".repeat(120_000)}`)).toEqual([]);
    expect(parseM3u(`#EXTINF:${"1".repeat(800_000)}\nfile.mp3`)).toEqual([
      { path: "file.mp3", artist: null, title: null, durationMs: null },
    ]);
    // Each of these takes minutes with a backtracking pattern; linear scanning takes milliseconds.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(
      parseXspf(
        "<playlist><track><title>a &#99999999; &#x110000; &bogus; &#65;</title></track></playlist>",
      )[0]!.title,
    ).toBe("a &#99999999; &#x110000; &bogus; A");
  });
});

describe.each(targets)("playlist files and smart playlists on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  it("imports an M3U by path under any root or drive, then by artist/title/duration, reporting the rest", async () => {
    const text = [
      "#EXTM3U",
      "/home/someone/Music/Miles Davis/Kind of Blue/01 So What.flac",
      "C:\\Users\\me\\Music\\Radiohead\\OK Computer\\01 Airbag.mp3",
      "A Love Supreme/01 Acknowledgement.mp3",
      "#EXTINF:384,Radiohead - Paranoid Android",
      "D:\\rips\\pa.mp3",
      "#EXTINF:100,Nobody - Nothing",
      "/etc/passwd",
      "../../../srv/music/../../etc/shadow",
      "#EXTINF:900,Miles Davis - So What",
      "elsewhere/so-what.mp3",
    ].join("\n");
    const { snapshot, report } = await h.call("import", { name: "Imported", format: "m3u", text });
    expect(snapshot.items.map((item) => item.trackId)).toEqual(["t-blue1", "t-okc1", "t-love1", "t-okc2"]);
    expect(snapshot.playlist).toMatchObject({ name: "Imported", ownerId: "u-alice", revision: 1 });
    expect(report).toEqual({
      entries: 7,
      matched: 4,
      byPath: 3,
      byTags: 1,
      unmatched: [
        { entry: 5, reason: "not-found", path: "/etc/passwd", artist: "Nobody", title: "Nothing" },
        {
          entry: 6,
          reason: "not-found",
          path: "../../../srv/music/../../etc/shadow",
          artist: null,
          title: null,
        },
        // The title fits, the duration (900 s against 562 s) does not.
        {
          entry: 7,
          reason: "not-found",
          path: "elsewhere/so-what.mp3",
          artist: "Miles Davis",
          title: "So What",
        },
      ],
    });
  });

  it("imports XSPF by file URL and by tags", async () => {
    const text = `<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList>
      <track><location>file:///Volumes/M/Miles%20Davis/Kind%20of%20Blue/02%20Freddie%20Freeloader.flac</location></track>
      <track><creator>john coltrane</creator><title>ACKNOWLEDGEMENT</title><duration>466000</duration></track>
    </trackList></playlist>`;
    const { snapshot, report } = await h.call("import", { name: "X", format: "xspf", text });
    expect(snapshot.items.map((item) => item.trackId)).toEqual(["t-blue2", "t-love1"]);
    expect(report).toMatchObject({ entries: 2, matched: 2, byPath: 1, byTags: 1, unmatched: [] });
  });

  it("skips an over-long or unreadable entry and reports why, importing the rest", async () => {
    const text = [
      "#EXTM3U",
      "Miles Davis/Kind of Blue/01 So What.flac",
      `${"very/".repeat(1_000)}long.mp3`,
      `#EXTINF:200,Someone - ${"la".repeat(400)}`,
      "song.mp3",
      "#EXTINF:200,Radiohead - Air\u0000bag",
      "Radiohead/OK Computer/zero\u0000byte.mp3",
      "Radiohead/OK Computer/02 Paranoid Android.mp3",
    ].join("\n");
    const { snapshot, report } = await h.call("import", { name: "Rough", format: "m3u", text });
    expect(snapshot.items.map((item) => item.trackId)).toEqual(["t-blue1", "t-okc2"]);
    expect(report).toMatchObject({ entries: 5, matched: 2, byPath: 2, byTags: 0 });
    expect(report.unmatched).toHaveLength(3);
    const [long, tooLongTitle, unreadable] = report.unmatched;
    expect(long).toMatchObject({ entry: 2, reason: "too-long", artist: null, title: null });
    // What is reported is cut short: the answer does not echo kilobytes back.
    expect(long!.path!.length).toBeLessThanOrEqual(201);
    expect(long!.path!.startsWith("very/very/")).toBe(true);
    expect(tooLongTitle).toMatchObject({ entry: 3, reason: "too-long", path: "song.mp3", artist: "Someone" });
    expect(unreadable).toMatchObject({ entry: 4, reason: "unreadable", artist: "Radiohead" });
    expect(unreadable!.path).not.toContain("\u0000");
  });

  it("reads an XSPF entry with an absurd duration or a broken location as far as it can", async () => {
    const text = `<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList>
      <track><location>Miles%20Davis/Kind%20of%20Blue/02%20Freddie%20Freeloader.flac</location><duration>1e300</duration></track>
      <track><creator>Nobody at all</creator></track>
      <track><location>%E0%A4%A</location><title>So What</title></track>
    </trackList></playlist>`;
    const { snapshot, report } = await h.call("import", { name: "X", format: "xspf", text });
    // A duration is only a hint: an absurd one is dropped, the entry still matches by its path.
    expect(snapshot.items.map((item) => item.trackId)).toEqual(["t-blue2", "t-blue1"]);
    expect(report.unmatched).toEqual([
      { entry: 2, reason: "not-found", path: null, artist: "Nobody at all", title: null },
    ]);
  });

  it("refuses an import that is not what it says with BAD_REQUEST and creates nothing", async () => {
    expect((await h.failure("import", { name: "X", format: "xspf", text: "not xml" })).code).toBe(
      "BAD_REQUEST",
    );
    expect(await h.call("list", {})).toEqual([]);
  });

  it("exports M3U8 and XSPF with paths relative to the library folders, which import back to the same tracks", async () => {
    const created = await h.call("create", { name: "Out/put", trackIds: ["t-okc2", "t-blue1", "t-okc2"] });
    const m3u = await h.call("export", { playlistId: created.playlist.id, format: "m3u8" });
    expect(m3u).toMatchObject({ fileName: "Out_put.m3u8", mimeType: "audio/x-mpegurl" });
    expect(m3u.text).toBe(
      "#EXTM3U\n#PLAYLIST:Out/put\n" +
        "#EXTINF:383,Radiohead - Paranoid Android\nRadiohead/OK Computer/02 Paranoid Android.mp3\n" +
        "#EXTINF:562,Miles Davis - So What\nMiles Davis/Kind of Blue/01 So What.flac\n" +
        "#EXTINF:383,Radiohead - Paranoid Android\nRadiohead/OK Computer/02 Paranoid Android.mp3\n",
    );
    const xspf = await h.call("export", { playlistId: created.playlist.id, format: "xspf" });
    expect(xspf.text).toContain("<location>Miles%20Davis/Kind%20of%20Blue/01%20So%20What.flac</location>");
    for (const file of [m3u, xspf]) {
      expect(file.text).not.toContain(libraryRoot);
      const again = await h.call("import", {
        name: "Again",
        format: file === m3u ? "m3u" : "xspf",
        text: file.text,
      });
      expect(again.snapshot.items.map((item) => item.trackId)).toEqual(["t-okc2", "t-blue1", "t-okc2"]);
      expect(again.report.byPath).toBe(3);
    }
    expect((await h.failure("export", { playlistId: created.playlist.id, format: "m3u8" }, "bob")).code).toBe(
      "NOT_FOUND",
    );
  });

  it("fills a smart playlist from its rules and refreshes it when the catalog changes", async () => {
    const smart = await h.call("createSmart", { name: "Jazz", rules: { genres: ["JAZZ"], order: "artist" } });
    expect(smart.items.map((item) => item.trackId)).toEqual(["t-love1", "t-blue1", "t-blue2"]);
    expect(smart.playlist.access.canEdit).toBe(false);
    const id = smart.playlist.id;
    const before = smart.playlist.revision;

    const newJazz = trackRowOf({
      id: "t-bitches",
      path: "Miles Davis/Bitches Brew/01 Pharaoh's Dance.flac",
      title: "Pharaoh's Dance",
      artist: "Miles Davis",
      album: "Bitches Brew",
      genre: "Jazz",
      year: 1970,
    });
    await h.catalog.applyScan({
      upserts: [newJazz],
      deletions: ["t-love1"],
      errors: [],
      clearedErrorPaths: [],
    });
    await h.catalogChanged();
    await expect
      .poll(async () => (await h.call("get", { playlistId: id })).items.map((item) => item.trackId))
      .toEqual(["t-bitches", "t-blue1", "t-blue2"]);
    const refreshed = h.events.filter((event) => event.playlistId === id && event.revision > before);
    expect(refreshed.flatMap((event) => event.revisions.map((r) => r.operation.type))).toEqual([
      "remove",
      "insert",
      "move",
    ]);

    const recent = await h.call("setSmartRules", {
      playlistId: id,
      rules: { yearFrom: 1990, yearTo: 2000, order: "title" },
    });
    expect(recent.items.map((item) => item.trackId)).toEqual(["t-okc1", "t-okc2"]);
    expect((await h.failure("setSmartRules", { playlistId: id, rules: {} }, "bob")).code).toBe("NOT_FOUND");
    const plain = await h.call("create", { name: "Plain" });
    expect((await h.failure("setSmartRules", { playlistId: plain.playlist.id, rules: {} })).code).toBe(
      "BAD_REQUEST",
    );
  });

  it("refreshes a smart playlist once at a time: refreshes at once add a new track once", async () => {
    const smart = await h.call("createSmart", { name: "Jazz", rules: { genres: ["jazz"], order: "artist" } });
    const newJazz = trackRowOf({
      id: "t-bitches",
      path: "Miles Davis/Bitches Brew/01 Pharaoh's Dance.flac",
      title: "Pharaoh's Dance",
      artist: "Miles Davis",
      album: "Bitches Brew",
      genre: "Jazz",
      year: 1970,
    });
    await h.catalog.applyScan({ upserts: [newJazz], deletions: [], errors: [], clearedErrorPaths: [] });
    await Promise.all([
      h.service.refreshSmartPlaylists(),
      h.service.refreshSmartPlaylists(),
      h.service.refreshSmartPlaylists(),
    ]);
    expect(
      (await h.call("get", { playlistId: smart.playlist.id })).items.map((item) => item.trackId),
    ).toEqual(["t-love1", "t-bitches", "t-blue1", "t-blue2"]);
  });

  it("refreshes smart playlists when the service starts, for changes made while it was down", async () => {
    const smart = await h.call("createSmart", { name: "Rock", rules: { genres: ["rock"] } });
    expect(smart.items.map((item) => item.trackId)).toEqual(["t-okc1", "t-okc2"]);
    await h.service.stop();
    await h.catalog.applyScan({ upserts: [], deletions: ["t-okc1"], errors: [], clearedErrorPaths: [] });
    await h.service.start();
    await expect
      .poll(async () =>
        (await h.call("get", { playlistId: smart.playlist.id })).items.map((item) => item.trackId),
      )
      .toEqual(["t-okc2"]);
  });

  it("selects recently added tracks relative to now", async () => {
    const fresh = trackRowOf({
      id: "t-fresh",
      path: "New/Single/01 Fresh.mp3",
      title: "Fresh",
      artist: "New",
      album: "Single",
      addedAt: h.clock.now() - 86_400_000,
    });
    await h.catalog.applyScan({ upserts: [fresh], deletions: [], errors: [], clearedErrorPaths: [] });
    const smart = await h.call("createSmart", {
      name: "New",
      rules: { addedWithinDays: 7, order: "recentlyAdded" },
    });
    expect(smart.items.map((item) => item.trackId)).toEqual(["t-fresh"]);
  });
});
