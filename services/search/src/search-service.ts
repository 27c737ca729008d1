// The search service: answers from the current indexes while new ones are built, then swaps each in one assignment.
// The catalog index and the small playlist index are kept apart: a catalog rebuild never touches playlists.
import type { Logger } from "pino";
import {
  catalogChangedEvent,
  catalogContract,
  playlistChangedEvent,
  searchContract,
  type HandlersOf,
  type SearchContract,
} from "@soundmesh/protocol";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import { ForgottenTracks } from "./forgotten-tracks";
import { createPlaylistKeeper, type PlaylistSearchSource } from "./playlist-keeper";
import { mergeRanked } from "./ranking";
import { CATALOG_KINDS, SearchIndex, type IndexedDocument } from "./search-index";

export const searchManifest = {
  service: "search",
  calls: ["catalog", "playlist"],
  subscribes: ["catalog.changed", "playlist.changed"],
} as const satisfies ServiceManifest;

/** Where documents come from: the catalog over the bus in the server, anything in tests. */
export interface SearchSource {
  loadDocuments(): AsyncIterable<IndexedDocument[]>;
}

export function catalogSearchSource(bus: ServiceBus, pageSize = 2_000): SearchSource {
  return {
    async *loadDocuments() {
      let cursor: number | null = 0;
      while (cursor !== null) {
        const page: { documents: IndexedDocument[]; nextCursor: number | null } = await bus.request(
          catalogContract,
          "searchDocuments",
          { cursor, limit: pageSize },
          { timeoutMs: 30_000 },
        );
        yield page.documents;
        cursor = page.nextCursor;
      }
    },
  };
}

export interface SearchServiceDeps {
  logger: Logger;
  bus: ServiceBus;
  source: SearchSource;
  playlists: PlaylistSearchSource;
  clock: { now(): number };
  /** Waits between attempts to build the playlist index while the playlist service does not answer. */
  playlistRetryMs?: { first: number; max: number };
  /**
   * Both indexes are also rebuilt whole this often (the seeds' "replaced daily"): a change event lost on the way
   * (a NATS reconnect in cluster mode) leaves results stale until then at most. 0 turns it off.
   */
  rebuildEveryMs?: number;
  /**
   * A replica among several (cluster mode): start() follows the change events first, builds both indexes completely
   * (retrying the sources until they answer), and only then joins the service's queue group, so no query is ever
   * answered from a half or empty index. Off (all-in-one, the only instance): it serves at once, from an empty
   * index until the first build is swapped in.
   */
  serveWhenBuilt?: boolean;
}

export interface SearchService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<SearchContract>;
  /** Rebuilds in the background; calls while one runs coalesce into one more run. Resolves when the index is current. */
  rebuild(): Promise<void>;
  /** Builds the playlist index anew in the background (e.g. once the playlist service has started). */
  rebuildPlaylists(): void;
  /**
   * Forgets documents at once (removed tracks, their emptied albums and artists): the next query no longer finds
   * them, and a rebuild running meanwhile forgets them too before it is swapped in. How many were found.
   */
  remove(ids: readonly string[]): number;
  /** Adds or replaces documents at once, kept through a rebuild running meanwhile as `remove` is. */
  put(documents: readonly IndexedDocument[]): void;
}

interface Current {
  index: SearchIndex;
  version: number;
  builtAt: number | null;
}

export function createSearchService({
  logger,
  bus,
  source,
  playlists: playlistSource,
  clock,
  playlistRetryMs,
  rebuildEveryMs = 24 * 3600_000,
  serveWhenBuilt = false,
}: SearchServiceDeps): SearchService {
  const playlists = createPlaylistKeeper({
    source: playlistSource,
    logger,
    clock,
    ...(playlistRetryMs ? { retryMs: playlistRetryMs } : {}),
  });
  let current: Current = { index: SearchIndex.empty(), version: 0, builtAt: null };
  let lastBuildMs: number | null = null;
  let building: Promise<void> | undefined;
  let pending: Promise<void> | undefined;
  const subscriptions: Subscription[] = [];
  let rebuildTimer: ReturnType<typeof setInterval> | undefined;
  const forgotten = new ForgottenTracks();
  /** Changes made while a build runs, replayed on the new index before it is swapped in. */
  let journal: Array<(index: SearchIndex) => void> | undefined;
  let isStopped = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let wakeRetry: (() => void) | undefined;

  function change<T>(apply: (index: SearchIndex) => T): T {
    const result = apply(current.index);
    journal?.push(apply);
    return result;
  }

  async function buildOnce(): Promise<void> {
    const started = clock.now();
    const covered = forgotten.startRebuild();
    journal = [];
    let index: SearchIndex;
    try {
      index = await SearchIndex.build(source.loadDocuments());
      for (const apply of journal) apply(index);
    } finally {
      journal = undefined;
    }
    // The swap: one assignment, so a query sees either the old index or the new one, never half of one.
    current = { index, version: current.version + 1, builtAt: clock.now() };
    forgotten.rebuilt(covered);
    lastBuildMs = clock.now() - started;
    logger.info(
      { documents: index.size, version: current.version, buildMs: lastBuildMs },
      "search index swapped in",
    );
  }

  function rebuild(): Promise<void> {
    if (!building) {
      building = buildOnce().finally(() => (building = undefined));
      return building;
    }
    pending ??= building
      .catch(() => undefined)
      .then(() => {
        pending = undefined;
        return rebuild();
      });
    return pending;
  }

  /** The first catalog build of a replica: retried (with back-off) until the catalog answers or the service stops. */
  async function buildUntilDone(): Promise<void> {
    const { first, max } = playlistRetryMs ?? { first: 1_000, max: 30_000 };
    for (let delayMs = first; !isStopped; delayMs = Math.min(delayMs * 2, max)) {
      try {
        await rebuild();
        return;
      } catch (error) {
        logger.info({ err: error, retryMs: delayMs }, "search replica cannot build its index yet; retrying");
      }
      await new Promise<void>((resolve) => {
        wakeRetry = resolve;
        retryTimer = setTimeout(resolve, delayMs);
      });
    }
  }

  /** The ids among these that the catalog still has (while removed ids are not known one by one). */
  async function playableTracks(trackIds: string[]): Promise<Set<string>> {
    const playable = new Set<string>();
    for (let i = 0; i < trackIds.length; i += 500) {
      const tracks = await bus.request(catalogContract, "tracks", { trackIds: trackIds.slice(i, i + 500) });
      for (const track of tracks) playable.add(track.id);
    }
    return playable;
  }

  const handlers: HandlersOf<SearchContract> = {
    query: async ({ q, kinds, perKind, limit, offset }, ctx) => {
      // Each index is read once: a swap during this query is seen by the next one.
      const { index, version } = current;
      const wanted = offset + limit;
      const asked = kinds ? new Set(kinds) : undefined;
      // Removed tracks are left out, so a few more are asked for to fill the page.
      const spare = Math.min(forgotten.size, 1_000);
      const found = index.ranked(q, asked, wanted + spare, perKind + spare);
      const catalog = forgotten.filter(
        found,
        forgotten.mustVerify ? await playableTracks(ForgottenTracks.trackIdsOf(found)) : undefined,
      );
      const mine =
        !asked || asked.has("playlist")
          ? playlists.index.ranked(q, ctx.userId, Math.max(wanted, perKind))
          : undefined;
      const groups = [...CATALOG_KINDS, "playlist" as const]
        .filter((kind) => !asked || asked.has(kind))
        .map((kind) => {
          const group =
            kind === "playlist"
              ? mine && { ranked: mine.ranked, total: mine.total }
              : catalog.groups.get(kind);
          return {
            kind,
            hits: (group?.ranked ?? []).slice(0, perKind).map(({ hit }) => hit),
            total: group?.total ?? 0,
          };
        });
      return {
        hits: mergeRanked(mine ? [catalog.ranked, mine.ranked] : [catalog.ranked], offset, limit),
        total: catalog.total + (mine?.total ?? 0),
        groups,
        indexVersion: version,
      };
    },
    status: () => ({
      indexVersion: current.version,
      documents: current.index.size,
      builtAt: current.builtAt,
      lastBuildMs,
      rebuilding: building !== undefined,
      playlists: { documents: playlists.index.size, builtAt: playlists.builtAt },
    }),
  };

  return {
    handlers,
    rebuild,
    rebuildPlaylists: () => playlists.rebuild(),
    remove(ids) {
      const forgotten = [...ids];
      return change((index) => forgotten.filter((id) => index.remove(id)).length);
    },
    put(documents) {
      const added = [...documents];
      change((index) => {
        for (const document of added) index.add(document);
      });
    },
    async start() {
      if (!serveWhenBuilt) subscriptions.push(await bus.serve(searchContract, handlers));
      subscriptions.push(
        await bus.subscribe(catalogChangedEvent, (event) => {
          // Removed tracks are never offered from now on, not only once the rebuild is done: they leave the index
          // at once (and a build running now), and answers are filtered until the rebuild covers the change.
          forgotten.heard(event);
          const removed = event.removedTrackIds ?? [];
          if (removed.length > 0)
            change((index) => {
              for (const id of removed) index.remove(id, "track");
            });
          rebuild().catch((error: unknown) => logger.error({ err: error }, "search rebuild failed"));
        }),
      );
      subscriptions.push(
        await bus.subscribe(playlistChangedEvent, (change) => playlists.changed(change.playlistId)),
      );
      playlists.rebuild();
      if (serveWhenBuilt) {
        // Changes heard from here on are in the build or queued after it; the queue group sees a whole index only.
        const started = clock.now();
        await Promise.all([buildUntilDone(), playlists.built()]);
        if (isStopped) return;
        subscriptions.push(await bus.serve(searchContract, handlers));
        logger.info(
          { documents: current.index.size, playlists: playlists.index.size, readyMs: clock.now() - started },
          "search replica built its index and joined the queue group",
        );
      } else {
        rebuild().catch((error: unknown) =>
          logger.warn({ err: error }, "first search build failed; the next catalog change retries"),
        );
      }
      if (rebuildEveryMs > 0) {
        rebuildTimer = setInterval(() => {
          rebuild().catch((error: unknown) => logger.warn({ err: error }, "scheduled search rebuild failed"));
          playlists.rebuild();
        }, rebuildEveryMs);
        rebuildTimer.unref();
      }
    },
    async stop() {
      isStopped = true;
      clearTimeout(retryTimer);
      wakeRetry?.();
      clearInterval(rebuildTimer);
      await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
      await playlists.stop();
      await building?.catch(() => undefined);
    },
  };
}
