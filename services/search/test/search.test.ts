// Search: ranking (exact > prefix > fuzzy, popular first on ties), typos, diacritics, the atomic index swap, and
// the scheduled whole rebuild.
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { searchContract, type PlaylistSearchDocument } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import {
  SearchIndex,
  createSearchService,
  searchManifest,
  type IndexedDocument,
  type PlaylistSearchSource,
  type SearchSource,
} from "@soundmesh/service-search";

const doc = (
  id: string,
  kind: IndexedDocument["kind"],
  title: string,
  artist = "",
  popularity = 0,
): IndexedDocument => ({
  id,
  kind,
  title,
  subtitle: artist,
  artist,
  album: "",
  year: null,
  popularity,
});

const library: IndexedDocument[] = [
  doc("a1", "artist", "The Beatles", "The Beatles", 100),
  doc("t1", "track", "Help!", "The Beatles", 50),
  doc("t2", "track", "Helpless", "Neil Young", 10),
  doc("t3", "track", "Hello", "Adele", 80),
  doc("t4", "track", "Hell", "Disturbed", 5),
  doc("a2", "artist", "Beyoncé", "Beyoncé", 90),
  doc("t5", "track", "Halo", "Beyoncé", 70),
  doc("t6", "track", "Love Song", "Band A", 1),
  doc("t7", "track", "Love Song", "Band B", 60),
  doc("al1", "album", "Abbey Road", "The Beatles", 40),
];

const sourceOf = (documents: IndexedDocument[][]): SearchSource => ({
  async *loadDocuments() {
    for (const batch of documents) yield await Promise.resolve(batch);
  },
});

const noPlaylists: PlaylistSearchSource = {
  async *loadPages() {
    yield await Promise.resolve([]);
  },
  fetch: () => Promise.resolve([]),
};

const search = async (q: string, kinds?: string[]) =>
  (await SearchIndex.build(sourceOf([library]).loadDocuments())).search(
    q,
    kinds ? new Set(kinds) : undefined,
    20,
    0,
  );

describe("search ranking", () => {
  it("ranks an exact word above prefixes of it", async () => {
    const { hits } = await search("hell");
    expect(hits[0]).toMatchObject({ id: "t4", match: "exact" });
    expect(hits.map((h) => [h.id, h.match])).toEqual([
      ["t4", "exact"],
      ["t3", "prefix"],
      ["t1", "fuzzy"],
    ]);
  });

  it("matches as you type on the last word", async () => {
    expect((await search("abbey ro")).hits[0]).toMatchObject({ id: "al1", match: "prefix" });
    expect((await search("bea")).hits.map((h) => h.id)).toContain("a1");
  });

  it("tolerates typos, below exact and prefix matches", async () => {
    const { hits } = await search("beatls");
    expect(hits[0]).toMatchObject({ id: "a1", match: "fuzzy" });
  });

  it("finds diacritics without typing them", async () => {
    expect((await search("beyonce")).hits[0]).toMatchObject({ id: "a2", match: "exact" });
  });

  it("puts the popular one first when matches tie", async () => {
    const { hits } = await search("love song");
    expect(hits.map((h) => h.id)).toEqual(["t7", "t6"]);
  });

  it("filters by kind and pages", async () => {
    expect((await search("beatles", ["album"])).hits.map((h) => h.id)).toEqual(["al1"]);
    const index = await SearchIndex.build(sourceOf([library]).loadDocuments());
    const all = index.search("he", undefined, 20, 0);
    const second = index.search("he", undefined, 1, 1);
    expect(second.hits[0]!.id).toBe(all.hits[1]!.id);
    expect(second.total).toBe(all.total);
  });
});

describe("search service", () => {
  function deferredSource() {
    let release: () => void = () => undefined;
    let documents: IndexedDocument[] = [];
    const source: SearchSource = {
      async *loadDocuments() {
        const batch = documents;
        await new Promise<void>((resolve) => (release = resolve));
        yield batch;
      },
    };
    return { source, set: (next: IndexedDocument[]) => (documents = next), release: () => release() };
  }

  it("answers from the old index during a rebuild and from the new one after the swap", async () => {
    const bus = createInProcessBus();
    const controlled = deferredSource();
    const service = createSearchService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(searchManifest),
      source: controlled.source,
      playlists: noPlaylists,
      clock: { now: () => Date.now() },
    });
    await bus.connect(searchManifest).serve(searchContract, service.handlers);
    const client = bus.connect({ service: "access-point", calls: ["search"] });

    controlled.set([doc("old", "track", "Yesterday")]);
    const first = service.rebuild();
    await expect
      .poll(() => service.handlers.status({}, { caller: "t", traceId: "t" }))
      .toMatchObject({ rebuilding: true });
    controlled.release();
    await first;
    expect((await client.request(searchContract, "query", { q: "yesterday" })).hits.map((h) => h.id)).toEqual(
      ["old"],
    );

    controlled.set([doc("new", "track", "Tomorrow")]);
    const second = service.rebuild();
    await expect
      .poll(() => service.handlers.status({}, { caller: "t", traceId: "t" }))
      .toMatchObject({ rebuilding: true });
    const during = await client.request(searchContract, "query", { q: "yesterday" });
    expect(during).toMatchObject({ indexVersion: 1, hits: [{ id: "old" }] });
    controlled.release();
    await second;
    expect(await client.request(searchContract, "query", { q: "tomorrow" })).toMatchObject({
      indexVersion: 2,
      hits: [{ id: "new" }],
    });
    expect((await client.request(searchContract, "query", { q: "yesterday" })).hits).toEqual([]);
  });

  it("forgets removed documents at once, and keeps removals and additions made during a rebuild after its swap", async () => {
    const bus = createInProcessBus();
    const controlled = deferredSource();
    const service = createSearchService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(searchManifest),
      source: controlled.source,
      playlists: noPlaylists,
      clock: { now: () => Date.now() },
      rebuildEveryMs: 0,
    });
    await bus.connect(searchManifest).serve(searchContract, service.handlers);
    const client = bus.connect({ service: "access-point", calls: ["search"] });
    const ids = async (q: string) =>
      (await client.request(searchContract, "query", { q })).hits.map((hit) => hit.id).sort();

    controlled.set(library);
    const first = service.rebuild();
    await expect
      .poll(() => service.handlers.status({}, { caller: "t", traceId: "t" }))
      .toMatchObject({ rebuilding: true });
    controlled.release();
    await first;
    expect(await ids("love song")).toEqual(["t6", "t7"]);
    expect(service.remove(["t6", "nope"])).toBe(1);
    expect(await ids("love song")).toEqual(["t7"]);

    // The catalog no longer lists t6 but still lists t7 when the rebuild reads it; t7 is removed (and t8 added)
    // while the rebuild runs.
    controlled.set(library.filter((document) => document.id !== "t6"));
    const second = service.rebuild();
    await expect
      .poll(() => service.handlers.status({}, { caller: "t", traceId: "t" }))
      .toMatchObject({ rebuilding: true });
    expect(service.remove(["t7"])).toBe(1);
    service.put([doc("t8", "track", "Love Song", "Band C", 5)]);
    expect(await ids("love song")).toEqual(["t8"]);
    controlled.release();
    await second;
    expect(await client.request(searchContract, "query", { q: "love song" })).toMatchObject({
      indexVersion: 2,
      hits: [{ id: "t8" }],
    });
  });

  it("coalesces rebuild requests made while one runs into one more build", async () => {
    let loads = 0;
    const bus = createInProcessBus();
    const service = createSearchService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(searchManifest),
      source: { loadDocuments: () => (loads++, sourceOf([library]).loadDocuments()) },
      playlists: noPlaylists,
      clock: { now: () => Date.now() },
    });
    await Promise.all([service.rebuild(), service.rebuild(), service.rebuild(), service.rebuild()]);
    expect(loads).toBe(2);
  });

  it("refuses empty and oversized queries", async () => {
    const bus = createInProcessBus();
    const service = createSearchService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(searchManifest),
      source: sourceOf([]),
      playlists: noPlaylists,
      clock: { now: () => Date.now() },
    });
    await service.start();
    const client = bus.connect({ service: "access-point", calls: ["search"] });
    for (const params of [
      { q: "" },
      { q: "   " },
      { q: "x".repeat(201) },
      { q: "a", limit: 0 },
      { q: "a", kinds: ["song"] },
      { q: "a", kinds: [] },
      { q: "a", kinds: ["playlists"] },
      { q: "a", offset: -1 },
      { q: "a", offset: 1_001 },
      { q: "a", limit: 101 },
    ]) {
      await expect(
        client.request(searchContract, "query", params as never),
        JSON.stringify(params),
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    }
    await service.stop();
  });
});

describe("scheduled rebuilds", () => {
  it("rebuilds both indexes on a schedule, so a change whose event was lost shows up anyway", async () => {
    const tracks = [doc("t1", "track", "Help!", "The Beatles", 50)];
    const playlists: PlaylistSearchDocument[] = [];
    const bus = createInProcessBus();
    const service = createSearchService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(searchManifest),
      source: { loadDocuments: () => sourceOf([[...tracks]]).loadDocuments() },
      playlists: {
        async *loadPages() {
          yield await Promise.resolve([...playlists]);
        },
        fetch: () => Promise.resolve([]),
      },
      clock: { now: () => Date.now() },
      rebuildEveryMs: 50,
    });
    await service.start();
    const client = bus.connect({ service: "access-point", calls: ["search"] });
    const titles = async (q: string) =>
      (await client.request(searchContract, "query", { q }, { userId: "u1" })).hits.map((hit) => hit.title);
    await vi.waitFor(async () => expect(await titles("help")).toEqual(["Help!"]));

    // Neither catalog.changed nor playlist.changed is published: only the schedule can find these.
    tracks.push(doc("t2", "track", "Helter Skelter", "The Beatles", 40));
    playlists.push({
      id: "pl_helpful0000000000000",
      name: "Helpful songs",
      description: "",
      ownerName: "u1",
      itemCount: 2,
      followers: 0,
      audience: null,
    });
    await vi.waitFor(async () =>
      expect(new Set(await titles("hel"))).toEqual(new Set(["Help!", "Helter Skelter", "Helpful songs"])),
    );
    await service.stop();
  });

  it("keeps no timer when the schedule is off", async () => {
    let loads = 0;
    const bus = createInProcessBus();
    const service = createSearchService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(searchManifest),
      source: {
        loadDocuments: () => {
          loads += 1;
          return sourceOf([library]).loadDocuments();
        },
      },
      playlists: noPlaylists,
      clock: { now: () => Date.now() },
      rebuildEveryMs: 0,
    });
    await service.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(loads).toBe(1);
    await service.stop();
  });
});
