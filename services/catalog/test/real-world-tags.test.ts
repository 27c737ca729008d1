// The real-world fixture library (tagged as real collections are) on SQLite and PostgreSQL: names from the folders
// below the library folder, one album per title and folder, one genre and year per album on every page, a page for
// every credited artist, and stable ids across rescans (old album ids answer with the album they became).
import { cpSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogContract, type ParamsOf } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  SqlCatalogStore,
  catalogManifest,
  createArtistSplitter,
  createCatalogService,
  idOf,
  migrateCatalogStore,
  type CatalogStoreOptions,
} from "@soundmesh/service-catalog";
import { dbTargets, generateRealWorldLibrary, type RealWorldLibrary } from "@soundmesh/test-kit";

type Methods = (typeof catalogContract)["methods"];

let fixture: RealWorldLibrary;
const work = mkdtempSync(join(tmpdir(), "soundmesh-real-world-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(async () => {
  fixture = await generateRealWorldLibrary();
}, 120_000);

/** A copy of the fixture library in a folder of its own, still named "Music". */
function copyLibrary(name: string): string {
  const root = join(work, name, "Music");
  cpSync(fixture.root, root, { recursive: true });
  return root;
}

async function startCatalog(db: Db, library: string, options: CatalogStoreOptions = {}) {
  const bus = createInProcessBus();
  const service = createCatalogService({
    config: { libraryFolders: [library], cacheDir: join(work, `cache-${Math.random()}`) },
    logger: pino({ level: "silent" }),
    bus: bus.connect(catalogManifest),
    store: new SqlCatalogStore(db, options),
    clock: { now: () => Date.now() },
  });
  await service.start();
  const client = bus.connect({ service: "access-point", calls: ["catalog"] });
  const call = <K extends keyof Methods>(method: K, params: ParamsOf<typeof catalogContract, K>) =>
    client.request(catalogContract, method, params, { role: "admin", userId: "u1" });
  const scan = async () => {
    service.startScan();
    return (await service.scanFinished())!;
  };
  const albumTitled = async (title: string) => {
    const found = (await call("albums", { limit: 500 })).items.filter((album) => album.title === title);
    expect(found, title).toHaveLength(1);
    return found[0]!;
  };
  return { service, call, scan, albumTitled, stop: () => service.stop() };
}

const targets = await dbTargets({ prepare: async (db) => void (await migrateCatalogStore(db)) });
afterAll(async () => Promise.all(targets.map((target) => target.dispose())));

describe.each(targets)("real-world tags on $name", (target) => {
  let opened: Awaited<ReturnType<typeof target.open>>;
  let catalog: Awaited<ReturnType<typeof startCatalog>>;
  beforeAll(async () => {
    opened = await target.open();
    catalog = await startCatalog(opened.db, copyLibrary(`read-${target.name}`));
    expect(await catalog.scan()).toMatchObject({ added: fixture.audioFiles, errors: 0 });
  }, 60_000);
  afterAll(async () => {
    await catalog.stop();
    await opened.close();
  });

  it("names untagged files from the folders below the library folder, never from the library folder's own name", async () => {
    const { call, albumTitled } = catalog;
    const names = (await call("artists", { limit: 500 })).items.map((artist) => artist.name);
    expect(names).not.toContain("Music");
    expect(await albumTitled("Quiet Hours")).toMatchObject({ albumArtist: "Unknown Artist", trackCount: 2 });
    expect(await albumTitled("Unknown Album")).toMatchObject({
      albumArtist: "Unknown Artist",
      trackCount: 1,
    });
    const nightShift = await albumTitled("Night Shift");
    expect(nightShift).toMatchObject({ albumArtist: "Lumen Drift", discCount: 2, trackCount: 2 });
    const { tracks } = await call("album", { albumId: nightShift.id });
    expect(tracks.map((t) => [t.discNumber, t.trackNumber, t.title])).toEqual([
      [1, 1, "Arrival"],
      [2, 1, "Departure"],
    ]);
  });

  it("makes one album of one title in one folder (or its disc folders), with or without album-artist tags", async () => {
    const { call, albumTitled } = catalog;
    const titles = (await call("albums", { limit: 500 })).items.map((album) => album.title);
    expect(titles).toEqual([
      "Duets",
      "Far Fields",
      "Harbour Nights",
      "Night Shift",
      "Quiet Hours",
      "Sketches",
      "Tide Lines",
      "Unknown Album",
    ]);
    expect(await albumTitled("Tide Lines")).toMatchObject({ albumArtist: "Shiroux Dou", trackCount: 4 });
    const farFields = await albumTitled("Far Fields");
    expect(farFields).toMatchObject({ albumArtist: "The Kestrels", discCount: 2, trackCount: 4 });
    const { tracks } = await call("album", { albumId: farFields.id });
    // Disc 2's files carry no disc tag: their folder says which disc they are.
    expect(tracks.map((t) => `${t.discNumber}-${t.trackNumber} ${t.title}`)).toEqual([
      "1-1 Morning",
      "1-2 Noon",
      "2-1 Dusk",
      "2-2 Night",
    ]);
    // Several track artists and no album-artist tag: a compilation.
    expect(await albumTitled("Harbour Nights")).toMatchObject({
      albumArtist: "Various Artists",
      compilation: true,
      trackCount: 2,
    });
    expect(await albumTitled("Duets")).toMatchObject({ albumArtist: "Mara Lind", compilation: false });
  });

  it("gives an album its tracks' most common genre and original year, the same on every page", async () => {
    const { call, albumTitled } = catalog;
    const tideLines = await albumTitled("Tide Lines");
    // Three tracks say Ambient and one Jazz; three were first released in 2015, the last says only 2019.
    expect(tideLines).toMatchObject({ genre: "Ambient", year: 2015, trackCount: 4 });
    const [byGenre] = (await call("byGenre", { genre: "Ambient" })).items;
    expect(byGenre).toEqual(tideLines);
    expect((await call("byGenre", { genre: "Jazz" })).items).toEqual([]);
    expect((await call("byYear", { year: 2015 })).items).toEqual([tideLines]);
    expect((await call("byYear", { year: 2019 })).items).toEqual([]);
    expect(await call("genres", {})).toEqual([
      { genre: "Ambient", albumCount: 1 },
      { genre: "Folk", albumCount: 1 },
    ]);
    const shiroux = (await call("artists", { limit: 500 })).items.find((a) => a.name === "Shiroux Dou")!;
    expect((await call("albumsOfArtist", { artistId: shiroux.id })).items).toEqual([tideLines]);
    expect((await call("album", { albumId: tideLines.id })).album).toEqual(tideLines);
  });

  it("credits every artist a track names, each with their albums and the albums they appear on", async () => {
    const { call } = catalog;
    const artists = (await call("artists", { limit: 500 })).items;
    expect(artists.map((artist) => artist.name)).toEqual([
      "Alpha Quay",
      "Beta Reef",
      "Ilse Varn",
      "Lumen Drift",
      "Mara Lind",
      "Shiroux Dou",
      "The Kestrels",
      "Tomo",
      "Unknown Artist",
      "Various Artists",
    ]);
    const titlesOf = async (name: string, role: "albumArtist" | "appearsOn") =>
      (await call("albumsOfArtist", { artistId: artists.find((a) => a.name === name)!.id, role })).items.map(
        (album) => album.title,
      );
    // "feat." in the artist tag, a multi-valued ARTISTS tag, and ";".
    expect(await titlesOf("Mara Lind", "albumArtist")).toEqual(["Duets"]);
    expect(await titlesOf("Mara Lind", "appearsOn")).toEqual(["Tide Lines"]);
    expect(await titlesOf("Tomo", "albumArtist")).toEqual(["Sketches"]);
    expect(await titlesOf("Tomo", "appearsOn")).toEqual(["Duets"]);
    expect(await titlesOf("Ilse Varn", "albumArtist")).toEqual([]);
    expect(await titlesOf("Ilse Varn", "appearsOn")).toEqual(["Sketches"]);
    expect(await titlesOf("Alpha Quay", "appearsOn")).toEqual(["Harbour Nights"]);
    const mara = artists.find((a) => a.name === "Mara Lind")!;
    expect(await call("artist", { artistId: mara.id })).toEqual(mara);
    expect(mara).toMatchObject({ albumCount: 1, appearsOnCount: 1, trackCount: 3 });

    const tideLines = (await call("albums", { limit: 500 })).items.find((a) => a.title === "Tide Lines")!;
    const spring = (await call("album", { albumId: tideLines.id })).tracks.find(
      (t) => t.title === "Spring Tide",
    )!;
    expect(spring).toMatchObject({ artist: "Shiroux Dou feat. Mara Lind", artistId: idOf("Shiroux Dou") });
    expect(spring.artists).toEqual([
      { id: idOf("Shiroux Dou"), name: "Shiroux Dou" },
      { id: mara.id, name: "Mara Lind" },
    ]);
    const duets = (await call("albums", { limit: 500 })).items.find((a) => a.title === "Duets")!;
    const together = (await call("album", { albumId: duets.id })).tracks[0]!;
    expect(together).toMatchObject({ title: "Together", artist: "Mara Lind with Tomo" });
    expect(together.artists.map((a) => a.name)).toEqual(["Mara Lind", "Tomo"]);
  });

  it("says on every track record whether its album has art, so clients ask only for covers that exist", async () => {
    const { call } = catalog;
    const albums = (await call("albums", { limit: 500 })).items;
    const withArt = albums.filter((album) => album.hasCover).map((album) => album.title);
    expect(withArt).toEqual(["Duets"]);
    for (const album of albums) {
      const { tracks } = await call("album", { albumId: album.id });
      expect(tracks.map((t) => t.hasCover)).toEqual(tracks.map(() => album.hasCover));
      // The one-track and many-track methods say the same.
      expect((await call("track", { trackId: tracks[0]!.id })).hasCover).toBe(album.hasCover);
      const many = await call("tracks", { trackIds: tracks.map((t) => t.id) });
      expect(many.map((t) => t.hasCover)).toEqual(tracks.map(() => album.hasCover));
    }
    const duets = albums.find((album) => album.title === "Duets")!;
    expect((await call("cover", { albumId: duets.id, size: 64 })).mimeType).toMatch(/^image\//);
  });

  it("sorts artists and albums by name, year and recently added, and refuses unknown orders", async () => {
    const { call } = catalog;
    const byYear = (await call("albums", { sort: "year", limit: 3 })).items;
    expect(byYear.map((album) => [album.title, album.year])).toEqual([
      ["Tide Lines", 2015],
      ["Harbour Nights", 2012],
      // Albums without a year come last, by title.
      ["Duets", null],
    ]);
    const byArtist = (await call("albums", { sort: "artist", limit: 500 })).items;
    expect(byArtist.map((album) => album.albumArtist)).toEqual(
      [...byArtist.map((album) => album.albumArtist)].sort((a, b) =>
        a.toLowerCase().localeCompare(b.toLowerCase()),
      ),
    );
    const recent = await call("albums", { sort: "recent", limit: 2, offset: 1 });
    expect(recent.total).toBe(8);
    expect(recent.items).toHaveLength(2);
    const recentArtists = (await call("artists", { sort: "recent", limit: 500 })).items;
    expect(recentArtists.map((a) => a.addedAt)).toEqual(
      [...recentArtists.map((a) => a.addedAt)].sort((a, b) => b - a),
    );
    for (const [method, params] of [
      ["albums", { sort: "rating" }],
      ["artists", { sort: "year" }],
      ["albumsOfArtist", { artistId: "x", role: "producer" }],
      ["albums", { limit: 501 }],
    ] as const)
      await expect(call(method, params as never), method).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    await expect(call("artist", { artistId: "nobody" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe.each(targets)("rescans on $name", (target) => {
  it("groups stored tracks again when their folder changes, and an old album id opens the album it became", async () => {
    const opened = await target.open();
    const library = copyLibrary(`rescan-${target.name}`);
    const { call, scan, albumTitled, stop } = await startCatalog(opened.db, library);
    await scan();
    const harbour = await albumTitled("Harbour Nights");
    const quay = (await call("album", { albumId: harbour.id })).tracks.find((t) => t.title === "Quay")!;
    const tideLines = await albumTitled("Tide Lines");

    // One of the compilation's two artists goes: the album is now Alpha Quay's, under a new id.
    unlinkSync(join(library, "Compilations/Harbour Nights/02 Reef.m4a"));
    // A new file without the album-artist tag joins Tide Lines, which keeps its id.
    cpSync(
      join(library, "Shiroux Dou/Tide Lines/04 Neap.ogg"),
      join(library, "Shiroux Dou/Tide Lines/05 Neap.ogg"),
    );
    expect(await scan()).toMatchObject({ added: 1, removed: 1 });

    const alphaQuay = await albumTitled("Harbour Nights");
    expect(alphaQuay).toMatchObject({ albumArtist: "Alpha Quay", compilation: false, trackCount: 1 });
    expect(alphaQuay.id).not.toBe(harbour.id);
    expect(await call("track", { trackId: quay.id })).toMatchObject({ albumId: alphaQuay.id });
    const viaOldId = await call("album", { albumId: harbour.id });
    expect(viaOldId.album).toEqual(alphaQuay);
    expect(viaOldId.tracks.map((t) => t.id)).toEqual([quay.id]);
    expect(await albumTitled("Tide Lines")).toMatchObject({ id: tideLines.id, trackCount: 5 });
    await stop();
    await opened.close();
  });

  it("splits artist tags by the configured separators only", async () => {
    const opened = await target.open();
    const { call, scan, stop } = await startCatalog(opened.db, copyLibrary(`separators-${target.name}`), {
      splitArtists: createArtistSplitter({ separators: ["&"], keepWhole: [] }),
    });
    await scan();
    const names = (await call("artists", { limit: 500 })).items.map((artist) => artist.name);
    // ";" and "feat." are not separators here; the multi-valued ARTISTS tag needs none.
    expect(names).toContain("Tomo; Ilse Varn");
    expect(names).toContain("Shiroux Dou feat. Mara Lind");
    expect(names).not.toContain("Ilse Varn");
    expect(names).toContain("Tomo");
    await stop();
    await opened.close();
  });
});
