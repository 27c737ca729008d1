// The search service: answers from the current index while a new one is built, then swaps it in one assignment.
import type { Logger } from "pino";
import {
  catalogChangedEvent,
  catalogContract,
  searchContract,
  type HandlersOf,
  type SearchContract,
} from "@soundmesh/protocol";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import { SearchIndex, type IndexedDocument } from "./search-index";

export const searchManifest = {
  service: "search",
  calls: ["catalog"],
  subscribes: ["catalog.changed"],
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
  clock: { now(): number };
}

export interface SearchService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<SearchContract>;
  /** Rebuilds in the background; calls while one runs coalesce into one more run. Resolves when the index is current. */
  rebuild(): Promise<void>;
}

interface Current {
  index: SearchIndex;
  version: number;
  builtAt: number | null;
}

export function createSearchService({ logger, bus, source, clock }: SearchServiceDeps): SearchService {
  let current: Current = { index: SearchIndex.empty(), version: 0, builtAt: null };
  let lastBuildMs: number | null = null;
  let building: Promise<void> | undefined;
  let pending: Promise<void> | undefined;
  const subscriptions: Subscription[] = [];

  async function buildOnce(): Promise<void> {
    const started = clock.now();
    const index = await SearchIndex.build(source.loadDocuments());
    // The swap: one assignment, so a query sees either the old index or the new one, never half of one.
    current = { index, version: current.version + 1, builtAt: clock.now() };
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

  const handlers: HandlersOf<SearchContract> = {
    query: ({ q, kinds, limit, offset }) => {
      const { index, version } = current;
      return { ...index.search(q, kinds ? new Set(kinds) : undefined, limit, offset), indexVersion: version };
    },
    status: () => ({
      indexVersion: current.version,
      documents: current.index.size,
      builtAt: current.builtAt,
      lastBuildMs,
      rebuilding: building !== undefined,
    }),
  };

  return {
    handlers,
    rebuild,
    async start() {
      subscriptions.push(await bus.serve(searchContract, handlers));
      subscriptions.push(
        await bus.subscribe(catalogChangedEvent, () =>
          rebuild().catch((error: unknown) => logger.error({ err: error }, "search rebuild failed")),
        ),
      );
      rebuild().catch((error: unknown) =>
        logger.warn({ err: error }, "first search build failed; the next catalog change retries"),
      );
    },
    async stop() {
      await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
      await building?.catch(() => undefined);
    },
  };
}
