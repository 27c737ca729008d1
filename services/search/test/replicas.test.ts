// Search replicas on a real nats-server: each builds the whole index from the catalog before it joins the queue
// group, so restarting one while queries run never yields an error or a partial answer; catalog changes reach all.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchContract } from "@soundmesh/protocol";
import { createBus, type Bus } from "@soundmesh/bus";
import { createNatsTransport } from "@soundmesh/bus/nats";
import {
  SqlCatalogStore,
  catalogManifest,
  createCatalogService,
  migrateCatalogStore,
  type CatalogService,
} from "@soundmesh/service-catalog";
import {
  catalogSearchSource,
  createSearchService,
  searchManifest,
  type PlaylistSearchSource,
  type SearchService,
} from "@soundmesh/service-search";
import {
  dbTargets,
  shouldRunNatsTests,
  startNatsServer,
  waitUntil,
  writeWav,
  type NatsServer,
} from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const noPlaylists: PlaylistSearchSource = {
  async *loadPages() {
    yield await Promise.resolve([]);
  },
  fetch: () => Promise.resolve([]),
};
const TRACKS = 30;

interface Replica {
  bus: Bus;
  search: SearchService;
  started: Promise<void>;
}

describe.skipIf(!shouldRunNatsTests())("search replicas over NATS", () => {
  const work = mkdtempSync(join(tmpdir(), "soundmesh-replicas-"));
  const folder = join(work, "music");
  let nats: NatsServer;
  let catalogBus: Bus;
  let catalog: CatalogService;
  let closeDb: () => Promise<void>;
  const buses: Bus[] = [];

  const natsBus = async () => {
    const bus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
    buses.push(bus);
    return bus;
  };

  const addTrack = (i: number, title = `Zebra Song ${i}`) =>
    writeWav(join(folder, "Album", `${i}.wav`), {
      title,
      artist: "Tester",
      album: "Album",
      seed: i + 1,
      seconds: 0.2,
    });

  /** One replica as its own NATS connection (a process of its own); its catalog reads wait for `gate`. */
  async function startReplica(gate: Promise<void> = Promise.resolve(), onLoad = () => {}): Promise<Replica> {
    const bus = await natsBus();
    const searchBus = bus.connect(searchManifest);
    const catalogSource = catalogSearchSource(searchBus, 8);
    const search = createSearchService({
      logger,
      bus: searchBus,
      source: {
        async *loadDocuments() {
          onLoad();
          await gate;
          yield* catalogSource.loadDocuments();
        },
      },
      playlists: noPlaylists,
      clock: { now: () => Date.now() },
      rebuildEveryMs: 0,
      serveWhenBuilt: true,
    });
    return { bus, search, started: search.start() };
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    mkdirSync(join(folder, "Album"), { recursive: true });
    for (let i = 0; i < TRACKS; i++) addTrack(i);
    const [sqlite] = await dbTargets({ prepare: async (db) => void (await migrateCatalogStore(db)) });
    const opened = await sqlite!.open();
    closeDb = () => opened.close();
    catalogBus = await natsBus();
    catalog = createCatalogService({
      config: { libraryFolders: [folder], cacheDir: join(work, "cache") },
      logger,
      bus: catalogBus.connect(catalogManifest),
      store: new SqlCatalogStore(opened.db),
      clock: { now: () => Date.now() },
    });
    await catalog.start();
    catalog.startScan();
    await catalog.scanFinished();
  });

  afterAll(async () => {
    await catalog?.stop();
    for (const bus of buses) await bus.close().catch(() => undefined);
    await closeDb?.();
    await nats?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("a replica restarted while queries run joins only with its whole index, and changes reach every replica", async () => {
    const first = await startReplica();
    let second = await startReplica();
    await Promise.all([first.started, second.started]);
    const caller = (await natsBus()).connect({ service: "access-point", calls: ["search"] });
    const query = () =>
      caller.request(
        searchContract,
        "query",
        { q: "zebra", kinds: ["track"], limit: 100 },
        { timeoutMs: 10_000 },
      );

    // Four callers query without pause; each answer must be whole (every track) and none may fail.
    const errors: unknown[] = [];
    const partial: number[] = [];
    let answered = 0;
    let isRunning = true;
    const workers = Array.from({ length: 4 }, async () => {
      while (isRunning) {
        try {
          const { total } = await query();
          if (total !== TRACKS) partial.push(total);
          answered++;
        } catch (error) {
          errors.push(error);
        }
      }
    });
    const answeredBy = async (more: number) => {
      const target = answered + more;
      await waitUntil(
        () => answered + errors.length,
        (count) => count >= target,
        60_000,
        5,
      );
    };

    await answeredBy(40);
    // The restart: stop one (its queue-group subscription drains), start a new one whose catalog reads are held
    // back, and let queries run meanwhile: they must all be answered by the other replica.
    await second.search.stop();
    await second.bus.close();
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let isLoading = false;
    second = await startReplica(gate, () => (isLoading = true));
    await waitUntil(
      () => isLoading,
      (loading) => loading,
    );
    await answeredBy(60);
    expect(second.search.handlers.status({}, { caller: "test", traceId: "t" })).toMatchObject({
      documents: 0,
    });
    openGate();
    await second.started;
    await answeredBy(60);
    isRunning = false;
    await Promise.all(workers);
    expect(errors).toEqual([]);
    expect(partial).toEqual([]);

    // A track added to the library: the scan's catalog.changed reaches both replicas, and each finds it.
    addTrack(TRACKS, "Zebra Newcomer");
    catalog.startScan();
    await catalog.scanFinished();
    for (const replica of [first, second])
      await waitUntil(
        async () =>
          (
            await replica.search.handlers.query(
              { q: "newcomer", kinds: ["track"], perKind: 6, limit: 20, offset: 0 },
              { caller: "test", traceId: "t" },
            )
          ).total,
        (total) => total === 1,
      );
    await expect(query()).resolves.toMatchObject({ total: TRACKS + 1 });
    // Bad input over NATS is refused with its typed code by whichever replica answers.
    await expect(
      caller.request(searchContract, "query", { q: "", limit: 100 }, { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await Promise.all([first.search.stop(), second.search.stop()]);
  });

  it("a replica whose catalog does not answer yet stays out of the queue group, retrying, until it does", async () => {
    await catalog.stop();
    const replica = await startReplica();
    const probe = (await natsBus()).connect({ service: "access-point", calls: ["search"] });
    // No replica serves: the caller is told UNAVAILABLE, never given an empty answer.
    await expect(
      probe.request(searchContract, "query", { q: "zebra" }, { timeoutMs: 2_000 }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await catalog.start();
    await replica.started;
    await expect(
      probe.request(searchContract, "query", { q: "zebra", kinds: ["track"], limit: 100 }),
    ).resolves.toMatchObject({ total: TRACKS + 1 });
    await replica.search.stop();
  });
});
