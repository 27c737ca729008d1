// Search never offers a track the catalog removed: from the moment it hears of the removal (before its rebuild is
// done), and, when the change does not name the removed tracks, by checking track hits with the real catalog.
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { catalogChangedEvent, searchContract } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import {
  SqlCatalogStore,
  catalogManifest,
  createCatalogService,
  migrateCatalogStore,
} from "@soundmesh/service-catalog";
import {
  catalogSearchSource,
  createSearchService,
  searchManifest,
  type PlaylistSearchSource,
} from "@soundmesh/service-search";
import { dbTargets, writeWav } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-forget-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const noPlaylists: PlaylistSearchSource = {
  async *loadPages() {
    yield await Promise.resolve([]);
  },
  fetch: () => Promise.resolve([]),
};

const [sqlite] = await dbTargets({ prepare: async (db) => void (await migrateCatalogStore(db)) });

describe("search and removed tracks", () => {
  it("forgets a removed track at once, and checks hits with the catalog when the change names none", async () => {
    const opened = await sqlite!.open();
    const folder = join(work, "music");
    mkdirSync(join(folder, "Album"), { recursive: true });
    for (let i = 0; i < 6; i++)
      writeWav(join(folder, "Album", `${i}.wav`), {
        title: `Zebra Song ${i}`,
        artist: "Tester",
        album: "Album",
        seed: i + 1,
        seconds: 0.2,
      });
    const bus = createInProcessBus();
    const store = new SqlCatalogStore(opened.db);
    const catalog = createCatalogService({
      config: { libraryFolders: [folder], cacheDir: join(work, "cache") },
      logger,
      bus: bus.connect(catalogManifest),
      store,
      clock: { now: () => Date.now() },
    });
    await catalog.start();
    catalog.startScan();
    await catalog.scanFinished();
    // Rebuilds wait for this gate while the test says so: a query then meets the old index.
    let openGate = () => {};
    let gate = Promise.resolve();
    const searchBus = bus.connect(searchManifest);
    const realSource = catalogSearchSource(searchBus);
    const search = createSearchService({
      logger,
      bus: searchBus,
      source: {
        async *loadDocuments() {
          await gate;
          yield* realSource.loadDocuments();
        },
      },
      playlists: noPlaylists,
      clock: { now: () => Date.now() },
      rebuildEveryMs: 0,
    });
    await search.start();
    await search.rebuild();
    const client = bus.connect({ service: "access-point", calls: ["search"], publishes: [] });
    const trackTitles = async () =>
      (await client.request(searchContract, "query", { q: "zebra", kinds: ["track"] }, { userId: "u1" })).hits
        .map((hit) => hit.title)
        .sort();
    expect(await trackTitles()).toHaveLength(6);

    gate = new Promise((resolve) => (openGate = resolve));
    unlinkSync(join(folder, "Album", "2.wav"));
    catalog.startScan();
    await catalog.scanFinished();
    // The rebuild is held at the gate: the old index still has the track, the answer does not.
    await expect.poll(trackTitles).not.toContain("Zebra Song 2");
    expect(await trackTitles()).toHaveLength(5);
    expect((await client.request(searchContract, "status", {}, { userId: "u1" })).rebuilding).toBe(true);
    openGate();
    await expect
      .poll(async () => (await client.request(searchContract, "status", {})).rebuilding)
      .toBe(false);
    expect(await trackTitles()).toHaveLength(5);

    // A change too large to name its tracks: hits are checked with the catalog until the next rebuild.
    gate = new Promise((resolve) => (openGate = resolve));
    const gone = (await store.fileStates()).find((state) => state.path.endsWith("4.wav"))!;
    await store.applyScan({ upserts: [], deletions: [gone.id], errors: [], clearedErrorPaths: [] });
    await bus
      .connect({ service: "catalog", calls: [], publishes: ["catalog.changed"] })
      .publish(catalogChangedEvent, { scanId: "big", added: 0, updated: 0, removed: 20_000 });
    await expect.poll(trackTitles).not.toContain("Zebra Song 4");
    openGate();
    await search.stop();
    await catalog.stop();
    await opened.close();
  });
});
