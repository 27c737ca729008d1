// Chooses the dialect: better-sqlite3 in WAL mode for all-in-one, pg for cluster mode; same Kysely API on both.
// pg loads with the first PostgreSQL query, so SQLite commands never pay for it.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase, type SqliteStatement } from "kysely";
import type pg from "pg";
import {
  JOURNAL_SIZE_LIMIT_BYTES,
  WRITER_AUTOCHECKPOINT_PAGES,
  startWalCheckpointer,
} from "./wal-checkpointer";

export type DbConfig =
  { kind: "sqlite"; file: string } | { kind: "postgres"; url: string; maxConnections?: number };
export type DbDialect = DbConfig["kind"];

export interface Db {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each service types its own tables on top
  kysely: Kysely<any>;
  /**
   * For reads that need not see a transaction still open on `kysely`: on an SQLite file, a second, read-only
   * connection (opened at its first query), so a long write transaction — which holds the one writing connection —
   * does not hold up other users' reads (WAL lets them read the last commit meanwhile). The same as `kysely` on
   * PostgreSQL (a pool) and in-memory SQLite (a second connection would be another database).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as kysely
  reader: Kysely<any>;
  dialect: DbDialect;
  /**
   * Hands back what SQLite's connections keep in memory and do not need (their page caches, up to 16 MiB each, filled
   * by a scan or a search rebuild; pages are read again from the OS's file cache when next needed). Nothing on
   * PostgreSQL, whose cache is the server's. Skips a connection busy streaming rows.
   */
  releaseMemory(): void;
  close(): Promise<void>;
}

/** `pragma shrink_memory` on a connection, unless it is open (not yet closed) and busy iterating a statement. */
function shrinkMemory(database: BetterSqlite3.Database | undefined): void {
  if (!database?.open) return;
  try {
    database.pragma("shrink_memory");
  } catch (error) {
    // better-sqlite3 refuses any statement while an iterator is open on the connection: the next release will do.
    if (!(error instanceof TypeError && /busy/.test(error.message))) throw error;
  }
}

// int8 (bigint, and count(*)) comes back from pg as a string; ours are epoch ms and counts, which fit in a double.
// The parser is set on our pools only: a global setTypeParser at import would change every pg user in the process.
function pgTypesOf(types: typeof pg.types): pg.CustomTypesConfig {
  const int8Oid: number = types.builtins.INT8;
  const pgDefaultParser = types.getTypeParser as (oid: number, format?: "text" | "binary") => unknown;
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary"): unknown =>
      oid === int8Oid && format !== "binary"
        ? (value: string) => Number(value)
        : pgDefaultParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
  };
}

/** How many prepared SQLite statements are kept, least recently used dropped first. */
const STATEMENT_CACHE_SIZE = 500;

let addonPath: string | undefined | null = null;

/**
 * better-sqlite3's compiled addon, by its path where npm builds it; undefined (better-sqlite3 then looks for it
 * itself, through the bindings package, trying a dozen places: ~5 ms of every command's start) when it is elsewhere.
 */
function sqliteAddon(): string | undefined {
  if (addonPath === null) {
    try {
      addonPath = createRequire(import.meta.url).resolve("better-sqlite3/build/Release/better_sqlite3.node");
    } catch {
      addonPath = undefined;
    }
  }
  return addonPath;
}

/**
 * Kysely prepares every query it runs; preparing costs about as much as running a small one. This keeps the prepared
 * statements by SQL text, so a query seen before only binds and runs. Streaming (iterate) gets a statement of its
 * own: a cached one is busy while iterated and could not serve another query meanwhile.
 */
export function cachingStatements(
  database: BetterSqlite3.Database,
  size = STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      const cached = cache.get(sql);
      if (cached) {
        // Most recently used last: the first key is the one to drop.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const prepared = database.prepare(sql);
      const statement: SqliteStatement = {
        reader: prepared.reader,
        all: (parameters) => prepared.all(parameters),
        run: (parameters) => prepared.run(parameters),
        iterate: (parameters) => database.prepare(sql).iterate(parameters),
      };
      cache.set(sql, statement);
      if (cache.size > size) cache.delete(cache.keys().next().value!);
      return statement;
    },
  };
}

export interface CreateDbOptions {
  /**
   * Called when the server ends an idle pooled PostgreSQL connection (restart, failover, admin kill). pg drops that
   * connection and the next query opens a new one; without a listener the pool's error event would crash the
   * process. Defaults to a process warning.
   */
  onPoolError?: (error: Error) => void;
}

export function createDb(config: DbConfig, options: CreateDbOptions = {}): Db {
  if (config.kind === "sqlite") {
    if (config.file !== ":memory:") mkdirSync(dirname(config.file), { recursive: true });
    const database = new BetterSqlite3(config.file, { nativeBinding: sqliteAddon() });
    database.pragma("journal_mode = WAL");
    // NORMAL keeps every committed transaction across a process crash (kill -9); only power loss can drop the last ones.
    database.pragma("synchronous = NORMAL");
    database.pragma("foreign_keys = ON");
    database.pragma("busy_timeout = 5000");
    const kysely = new Kysely({ dialect: new SqliteDialect({ database: cachingStatements(database) }) });
    if (config.file === ":memory:")
      return {
        kysely,
        reader: kysely,
        dialect: "sqlite",
        releaseMemory: () => shrinkMemory(database),
        close: () => kysely.destroy(),
      };
    // Checkpoints run in a worker (wal-checkpointer.ts), not in the commit that crosses 1,000 pages; the writer's own
    // stays as a backstop at 10,000. A kill -9 loses nothing either way: committed transactions are in the WAL.
    database.pragma(`wal_autocheckpoint = ${WRITER_AUTOCHECKPOINT_PAGES}`);
    database.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    const checkpointer = startWalCheckpointer(config.file);
    let readerConnection: BetterSqlite3.Database | undefined;
    const reader = new Kysely({
      dialect: new SqliteDialect({
        database: () => {
          const connection = new BetterSqlite3(config.file, { readonly: true, nativeBinding: sqliteAddon() });
          connection.pragma("busy_timeout = 5000");
          readerConnection = connection;
          return Promise.resolve(cachingStatements(connection));
        },
      }),
    });
    return {
      kysely,
      reader,
      dialect: "sqlite",
      releaseMemory: () => {
        shrinkMemory(database);
        shrinkMemory(readerConnection);
      },
      close: async () => {
        await checkpointer.stop();
        await reader.destroy();
        await kysely.destroy();
      },
    };
  }
  const onPoolError =
    options.onPoolError ??
    ((error: Error) => process.emitWarning(`an idle PostgreSQL connection failed: ${error.message}`));
  const createPool = async () => {
    const { default: pgModule } = await import("pg");
    const pool = new pgModule.Pool({
      connectionString: config.url,
      max: config.maxConnections ?? 10,
      types: pgTypesOf(pgModule.types),
    });
    pool.on("error", (error) => onPoolError(error));
    return pool;
  };
  const kysely = new Kysely({ dialect: new PostgresDialect({ pool: createPool }) });
  return {
    kysely,
    reader: kysely,
    dialect: "postgres",
    releaseMemory: () => undefined,
    close: () => kysely.destroy(),
  };
}
