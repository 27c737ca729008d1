// Keeps the playlist index current, apart from the catalog index: a whole build at start (retried until the playlist
// service answers), then each playlist.changed re-fetches just that playlist (changes heard within 100 ms of a fetch
// together, after it). One worker applies everything in order.
import type { Logger } from "pino";
import { playlistContract, type PlaylistSearchDocument } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { PlaylistIndex } from "./playlist-index";

/** Where playlist documents come from: the playlist service over the bus in the server, anything in tests. */
export interface PlaylistSearchSource {
  loadPages(): AsyncIterable<PlaylistSearchDocument[]>;
  /** The live ones among `ids`; a deleted or unknown playlist is simply missing. */
  fetch(ids: readonly string[]): Promise<PlaylistSearchDocument[]>;
}

export function playlistSearchSource(bus: ServiceBus, pageSize = 500): PlaylistSearchSource {
  return {
    async *loadPages() {
      let cursor: string | null = null;
      do {
        const page: { documents: PlaylistSearchDocument[]; nextCursor: string | null } = await bus.request(
          playlistContract,
          "searchDocuments",
          { cursor, limit: pageSize },
          { timeoutMs: 30_000 },
        );
        yield page.documents;
        cursor = page.nextCursor;
      } while (cursor !== null);
    },
    async fetch(ids) {
      const { documents } = await bus.request(
        playlistContract,
        "searchDocuments",
        { playlistIds: [...ids] },
        { timeoutMs: 10_000 },
      );
      return documents;
    },
  };
}

export interface PlaylistKeeper {
  /** The index queries read now: a reference taken once per query. */
  readonly index: PlaylistIndex;
  readonly builtAt: number | null;
  /** A whole new index is built in the background and swapped in; queries meanwhile read the old one. */
  rebuild(): void;
  /** Resolves once a whole index has been built (at once if one has), or when the keeper stops. */
  built(): Promise<void>;
  /** This playlist changed (or went): re-fetch it after everything already asked for. */
  changed(playlistId: string): void;
  stop(): Promise<void>;
}

const MAX_IDS_PER_FETCH = 500;
/**
 * The least time between two fetches of changed playlists. A hot playlist changes a hundred times a second (each group
 * of edits announced); fetching it after each change cost the server about as much as a tenth of the edits themselves.
 * Changes heard meanwhile are fetched together after the gap; after a quiet spell the first change is fetched at once.
 */
const FETCH_GAP_MS = 100;
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createPlaylistKeeper({
  source,
  logger,
  clock,
  retryMs = { first: 1_000, max: 30_000 },
  fetchGap = { ms: FETCH_GAP_MS, wait: pause },
}: {
  source: PlaylistSearchSource;
  logger: Logger;
  clock: { now(): number };
  retryMs?: { first: number; max: number };
  /** How long after a fetch of changes the next one waits, and how it waits (tests hold it). */
  fetchGap?: { ms: number; wait(ms: number): Promise<void> };
}): PlaylistKeeper {
  let index = PlaylistIndex.empty();
  let builtAt: number | null = null;
  let isBuildWanted = true;
  /** Playlists to re-fetch, each with the sequence number of its latest change (kept until a fetch after it). */
  const dirty = new Map<string, number>();
  let sequence = 0;
  let worker: Promise<void> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryDelayMs = retryMs.first;
  let isStopped = false;
  /** Waiting for the first whole build (a replica joins its queue group only after it). */
  const waitingForBuild: Array<() => void> = [];

  const forget = (upTo: number, ids: Iterable<string>) => {
    for (const id of ids) if ((dirty.get(id) ?? Infinity) <= upTo) dirty.delete(id);
  };

  async function buildWhole(): Promise<void> {
    const startedAt = sequence;
    const started = clock.now();
    // Cleared first, so a rebuild asked for during this one runs after it.
    isBuildWanted = false;
    let next: PlaylistIndex;
    try {
      next = await PlaylistIndex.build(source.loadPages());
    } catch (error) {
      isBuildWanted = true;
      throw error;
    }
    // The swap: one assignment. Changes heard before the build began are in it; later ones are fetched next.
    index = next;
    builtAt = clock.now();
    forget(startedAt, [...dirty.keys()]);
    for (const resolve of waitingForBuild.splice(0)) resolve();
    logger.info({ playlists: next.size, buildMs: builtAt - started }, "playlist index swapped in");
  }

  /** When the last fetch of changes started (performance.now(): a gap to keep, not a time of the domain). */
  let lastFetchAt = -Infinity;

  async function fetchChanged(): Promise<void> {
    const waitMs = lastFetchAt + fetchGap.ms - performance.now();
    if (waitMs > 0) await fetchGap.wait(waitMs);
    if (isStopped) return;
    lastFetchAt = performance.now();
    const startedAt = sequence;
    const ids = [...dirty.keys()].slice(0, MAX_IDS_PER_FETCH);
    const found = new Map((await source.fetch(ids)).map((document) => [document.id, document]));
    for (const id of ids) index.put(id, found.get(id));
    forget(startedAt, ids);
  }

  async function drain(): Promise<void> {
    while (!isStopped && (isBuildWanted || dirty.size > 0)) {
      try {
        await (isBuildWanted ? buildWhole() : fetchChanged());
        retryDelayMs = retryMs.first;
      } catch (error) {
        retryLater(error);
        return;
      }
    }
  }

  function retryLater(error: unknown): void {
    const isUnavailable = (error as { code?: unknown }).code === "UNAVAILABLE";
    logger[isUnavailable ? "info" : "warn"](
      { err: error, retryMs: retryDelayMs },
      "could not bring the playlist index up to date; retrying",
    );
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      run();
    }, retryDelayMs);
    retryTimer.unref();
    retryDelayMs = Math.min(retryDelayMs * 2, retryMs.max);
  }

  function run(): void {
    if (isStopped || worker) return;
    clearTimeout(retryTimer);
    retryTimer = undefined;
    worker = drain().finally(() => {
      worker = undefined;
      // Work that arrived as the worker finished, unless it is waiting out a retry.
      if (retryTimer === undefined && (isBuildWanted || dirty.size > 0)) run();
    });
  }

  return {
    get index() {
      return index;
    },
    get builtAt() {
      return builtAt;
    },
    rebuild() {
      isBuildWanted = true;
      run();
    },
    built() {
      if (builtAt !== null || isStopped) return Promise.resolve();
      return new Promise((resolve) => waitingForBuild.push(resolve));
    },
    changed(playlistId) {
      dirty.set(playlistId, ++sequence);
      run();
    },
    async stop() {
      isStopped = true;
      clearTimeout(retryTimer);
      for (const resolve of waitingForBuild.splice(0)) resolve();
      await worker;
    },
  };
}
