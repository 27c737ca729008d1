// Playlists in search: only those the caller may see, current right after each change event, kept apart from the
// catalog index, merged with catalog hits by the same ranking; the search service outlives a late playlist service.
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createInProcessBus, type Bus } from "@soundmesh/bus";
import {
  AppError,
  playlistChangedEvent,
  playlistContract,
  searchContract,
  type HandlersOf,
  type PlaylistContract,
  type PlaylistSearchDocument,
  type ResultOf,
  type SearchContract,
} from "@soundmesh/protocol";
import {
  createSearchService,
  playlistSearchSource,
  searchManifest,
  type IndexedDocument,
  type SearchService,
} from "@soundmesh/service-search";

const alice = "u-alice";
const bob = "u-bob";
const carol = "u-carol";

const playlist = (
  id: string,
  name: string,
  audience: string[] | null,
  more: Partial<PlaylistSearchDocument> = {},
): PlaylistSearchDocument => ({
  id,
  name,
  description: "",
  ownerName: "alice",
  itemCount: 3,
  followers: 0,
  audience,
  ...more,
});

const track = (id: string, title: string): IndexedDocument => ({
  id,
  kind: "track",
  title,
  subtitle: "Someone · Something",
  artist: "Someone",
  album: "Something",
  year: null,
  popularity: 0,
});

/**
 * A stand-in playlist service: searchDocuments over a map the test edits, playlist.changed when the test says so,
 * and a gate that holds whole-index page loads (not id look-ups) until released.
 */
function fakePlaylistService(bus: Bus) {
  const documents = new Map<string, PlaylistSearchDocument>();
  const playlistBus = bus.connect({ service: "playlist", calls: [], publishes: ["playlist.changed"] });
  let gate: Promise<void> | undefined;
  let release = () => undefined as void;
  let onPageLoad = () => undefined as void;
  let pageLoads = 0;
  let lookupFailures = 0;
  const heard = new Map<string, () => void>();
  const unused = () => {
    throw new AppError("UNAVAILABLE", "not in this stand-in");
  };
  const handlers: HandlersOf<PlaylistContract> = {
    ...(Object.fromEntries(
      Object.keys(playlistContract.methods).map((method) => [method, unused]),
    ) as unknown as HandlersOf<PlaylistContract>),
    async searchDocuments({ playlistIds, cursor, limit }) {
      const sorted = [...documents.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
      if (playlistIds && lookupFailures > 0) {
        lookupFailures--;
        throw new AppError("TIMEOUT", "a failing look-up");
      }
      if (playlistIds)
        return { documents: sorted.filter((d) => playlistIds.includes(d.id)), nextCursor: null };
      pageLoads++;
      onPageLoad();
      await gate;
      const page = sorted.filter((d) => cursor === null || d.id > cursor).slice(0, limit);
      return { documents: page, nextCursor: page.length === limit ? page.at(-1)!.id : null };
    },
  };
  let serving: { unsubscribe(): Promise<void> } | undefined;
  return {
    documents,
    pageLoads: () => pageLoads,
    /** The next `count` look-ups by id fail. */
    failLookups(count: number) {
      lookupFailures = count;
    },
    async serve() {
      serving = await playlistBus.serve(playlistContract, handlers);
    },
    /** Holds page loads; resolves `loading` when one is waiting. */
    hold() {
      gate = new Promise<void>((resolve) => (release = resolve));
      const loading = new Promise<void>((resolve) => (onPageLoad = resolve));
      return {
        loading,
        release: () => {
          gate = undefined;
          release();
        },
      };
    },
    put(document: PlaylistSearchDocument) {
      documents.set(document.id, document);
    },
    /** Listens as a later subscriber than search: when it hears a change, search's handler has already run. */
    async listen() {
      const probe = bus.connect({ service: "probe", calls: [], subscribes: ["playlist.changed"] });
      await probe.subscribe(playlistChangedEvent, (change) => heard.get(change.playlistId)?.());
    },
    /** Publishes playlist.changed and resolves once it was delivered (within a deadline). */
    async announce(playlistId: string, deleted = false) {
      const delivered = new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`${playlistId}: change not delivered`)), 5_000);
        heard.set(playlistId, () => {
          clearTimeout(deadline);
          heard.delete(playlistId);
          resolve();
        });
      });
      await playlistBus.publish(playlistChangedEvent, {
        playlistId,
        revision: 1,
        revisions: [],
        membersChanged: false,
        deleted,
        audience: documents.get(playlistId)?.audience ?? [],
      });
      await delivered;
    },
    async stop() {
      // A held build must not outlive the test.
      gate = undefined;
      release();
      await serving?.unsubscribe();
    },
  };
}

interface Setup {
  service: SearchService;
  playlists: ReturnType<typeof fakePlaylistService>;
  catalogLoads: () => number;
  query(
    q: string,
    as?: string,
    more?: { kinds?: Array<"track" | "album" | "artist" | "playlist">; limit?: number; offset?: number },
  ): Promise<ResultOf<SearchContract, "query">>;
  playlistIds(q: string, as?: string): Promise<string[]>;
  playlistsBuilt(): Promise<void>;
  close(): Promise<void>;
}

let open: Setup | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function setup(
  initial: PlaylistSearchDocument[],
  options: { catalog?: IndexedDocument[]; playlistServiceLate?: boolean } = {},
): Promise<Setup> {
  const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e6, burst: 1e6 }, edges: {} } });
  const playlists = fakePlaylistService(bus);
  for (const document of initial) playlists.put(document);
  if (!options.playlistServiceLate) await playlists.serve();
  const searchBus = bus.connect(searchManifest);
  let catalogLoads = 0;
  const service = createSearchService({
    logger: pino({ level: "silent" }),
    bus: searchBus,
    source: {
      async *loadDocuments() {
        catalogLoads++;
        yield await Promise.resolve(options.catalog ?? []);
      },
    },
    // Pages of two, so a build takes several requests.
    playlists: playlistSearchSource(searchBus, 2),
    clock: { now: () => Date.now() },
    playlistRetryMs: { first: 5, max: 20 },
  });
  await service.start();
  await playlists.listen();
  const client = bus.connect({ service: "access-point", calls: ["search"] });
  const status = () => service.handlers.status({}, { caller: "test", traceId: "t" });
  const query: Setup["query"] = (q, as, more = {}) =>
    client.request(searchContract, "query", { q, ...more }, as === undefined ? {} : { userId: as });
  open = {
    service,
    playlists,
    catalogLoads: () => catalogLoads,
    query,
    playlistIds: async (q, as) =>
      (await query(q, as, { kinds: ["playlist"] })).hits.map((hit) => hit.id).sort(),
    playlistsBuilt: () => expect.poll(status).toMatchObject({ playlists: { builtAt: expect.any(Number) } }),
    async close() {
      await service.stop();
      await playlists.stop();
      await bus.close();
    },
  };
  return open;
}

describe("playlists in search", () => {
  it("finds a private playlist for its owner and collaborators only, and a public one for everyone", async () => {
    const s = await setup([
      playlist("secret00", "Secret Garden", [alice, bob]),
      playlist("public00", "Garden Party", null, { ownerName: "bob" }),
    ]);
    await s.playlistsBuilt();
    expect(await s.playlistIds("garden", alice)).toEqual(["public00", "secret00"]);
    expect(await s.playlistIds("garden", bob)).toEqual(["public00", "secret00"]);
    expect(await s.playlistIds("garden", carol)).toEqual(["public00"]);
    // Internal callers, with no user, see public playlists only.
    expect(await s.playlistIds("garden")).toEqual(["public00"]);
    expect((await s.query("secret", carol)).hits).toEqual([]);
    expect((await s.query("garden party", carol)).hits).toEqual([
      {
        id: "public00",
        kind: "playlist",
        title: "Garden Party",
        subtitle: "Playlist · bob",
        score: expect.any(Number),
        match: "exact",
      },
    ]);
  });

  it("finds a renamed playlist by its new name right after the change event, and not by the old one", async () => {
    const s = await setup([playlist("rename00", "Morning Coffee", [alice])]);
    await s.playlistsBuilt();
    expect(await s.playlistIds("coffee", alice)).toEqual(["rename00"]);
    s.playlists.put(playlist("rename00", "Evening Tea", [alice]));
    await s.playlists.announce("rename00");
    await expect.poll(() => s.playlistIds("tea", alice)).toEqual(["rename00"]);
    expect(await s.playlistIds("coffee", alice)).toEqual([]);
    expect(await s.playlistIds("morning", alice)).toEqual([]);
  });

  it("drops a deleted playlist, and one that turned private for those no longer in its audience", async () => {
    const s = await setup([
      playlist("gone0000", "Road Trip", [alice]),
      playlist("closing0", "Road Songs", null),
    ]);
    await s.playlistsBuilt();
    expect(await s.playlistIds("road", bob)).toEqual(["closing0"]);
    s.playlists.documents.delete("gone0000");
    await s.playlists.announce("gone0000", true);
    s.playlists.put(playlist("closing0", "Road Songs", [alice]));
    await s.playlists.announce("closing0");
    await expect.poll(() => s.playlistIds("road", bob)).toEqual([]);
    expect(await s.playlistIds("road", alice)).toEqual(["closing0"]);
  });

  it("answers from the old playlist index while a new one is built", async () => {
    const s = await setup([playlist("before00", "Old Favourites", null)]);
    await s.playlistsBuilt();
    s.playlists.put(playlist("after000", "New Arrivals", null));
    const held = s.playlists.hold();
    s.service.rebuildPlaylists();
    await held.loading;
    expect(await s.playlistIds("favourites")).toEqual(["before00"]);
    expect(await s.playlistIds("arrivals")).toEqual([]);
    held.release();
    await expect.poll(() => s.playlistIds("arrivals")).toEqual(["after000"]);
  });

  it("applies a change heard during a build once the build is swapped in", async () => {
    const held = { current: undefined as ReturnType<Setup["playlists"]["hold"]> | undefined };
    const s = await setup([playlist("during00", "First Draft", null)], { playlistServiceLate: true });
    held.current = s.playlists.hold();
    await s.playlists.serve();
    s.service.rebuildPlaylists();
    await held.current.loading;
    // The build already read the old name; the change, heard during the build, must still win.
    s.playlists.put(playlist("during00", "Final Cut", null));
    await s.playlists.announce("during00");
    held.current.release();
    await expect.poll(() => s.playlistIds("final")).toEqual(["during00"]);
    expect(await s.playlistIds("draft")).toEqual([]);
  });

  it("tolerates typos and matches the word being typed as a prefix in playlist names", async () => {
    const s = await setup([
      playlist("summer00", "Summer Anthems", null),
      playlist("winter00", "Winter Walks", null, { ownerName: "bob", description: "snowy evenings" }),
    ]);
    await s.playlistsBuilt();
    expect((await s.query("sumer anthems")).hits).toMatchObject([{ id: "summer00", match: "fuzzy" }]);
    expect((await s.query("summer anth")).hits).toMatchObject([{ id: "summer00", match: "prefix" }]);
    expect((await s.query("summer anthems")).hits).toMatchObject([{ id: "summer00", match: "exact" }]);
    expect((await s.query("snowy")).hits).toMatchObject([{ id: "winter00" }]);
    expect((await s.query("bob")).hits).toMatchObject([{ id: "winter00", subtitle: "Playlist · bob" }]);
  });

  it("merges playlist hits with catalog hits by the same rule, and only when playlists are asked for", async () => {
    const s = await setup(
      [playlist("mix00000", "Summertime Mix", null), playlist("exact000", "Summer", null)],
      {
        catalog: [track("t-summer", "Summer"), track("t-summit", "Summit")],
      },
    );
    await s.playlistsBuilt();
    await expect
      .poll(() => s.service.handlers.status({}, { caller: "t", traceId: "t" }))
      .toMatchObject({
        indexVersion: 1,
      });
    const { hits } = await s.query("summer");
    // Exact before prefix whichever index a hit comes from; within a class, the higher score first.
    expect(hits.map((hit) => hit.match)).toEqual(["exact", "exact", "prefix"]);
    expect(
      hits
        .slice(0, 2)
        .map((hit) => hit.id)
        .sort(),
    ).toEqual(["exact000", "t-summer"]);
    expect(hits[2]).toMatchObject({ kind: "playlist", id: "mix00000" });
    expect(hits[0]!.score).toBeGreaterThanOrEqual(hits[1]!.score);
    expect((await s.query("summer", undefined, { kinds: ["track"] })).hits.map((hit) => hit.id)).toEqual([
      "t-summer",
    ]);
    expect((await s.query("summer", undefined, { kinds: ["playlist"] })).hits.map((hit) => hit.id)).toEqual([
      "exact000",
      "mix00000",
    ]);
    const page = await s.query("summer", undefined, { limit: 1, offset: 1 });
    expect(page.hits.map((hit) => hit.id)).toEqual([hits[1]!.id]);
  });

  it("keeps the catalog and playlist indexes apart: a rebuild of one never reloads the other", async () => {
    const s = await setup([playlist("apart000", "Kept Apart", null)]);
    await s.playlistsBuilt();
    await expect.poll(() => s.catalogLoads()).toBe(1);
    const pageLoads = s.playlists.pageLoads();
    await s.service.rebuild();
    expect(s.catalogLoads()).toBe(2);
    expect(s.playlists.pageLoads()).toBe(pageLoads);
    s.playlists.put(playlist("apart000", "Still Apart", null));
    await s.playlists.announce("apart000");
    await expect.poll(() => s.playlistIds("still")).toEqual(["apart000"]);
    expect(s.catalogLoads()).toBe(2);
    expect(s.playlists.pageLoads()).toBe(pageLoads);
  });

  it("retries a re-fetch that failed, so the change is not lost", async () => {
    const s = await setup([playlist("retry000", "Rainy Day", null)]);
    await s.playlistsBuilt();
    s.playlists.failLookups(2);
    s.playlists.put(playlist("retry000", "Sunny Day", null));
    await s.playlists.announce("retry000");
    await expect.poll(() => s.playlistIds("sunny")).toEqual(["retry000"]);
    expect(await s.playlistIds("rainy")).toEqual([]);
  });

  it("starts before the playlist service, answers meanwhile, and builds the playlist index once it answers", async () => {
    const s = await setup([playlist("late0000", "Late Night", null)], { playlistServiceLate: true });
    expect((await s.query("late")).hits).toEqual([]);
    expect(await s.service.handlers.status({}, { caller: "t", traceId: "t" })).toMatchObject({
      playlists: { documents: 0, builtAt: null },
    });
    await s.playlists.serve();
    // No nudge: the retry finds the service.
    await expect.poll(() => s.playlistIds("late")).toEqual(["late0000"]);
  });
});
