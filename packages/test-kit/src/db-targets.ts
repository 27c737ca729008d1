// The databases a suite runs against: a temporary SQLite file always, PostgreSQL when a server answers
// (cloned from a template prepared once per suite). For `describe.each(await dbTargets())`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db, type DbConfig, type DbDialect } from "@soundmesh/db";
import {
  isPgAvailable,
  pgTestDatabase,
  pgTestTemplate,
  type PgTestDatabase,
  type PgTestTemplate,
} from "./postgres";

export interface TestDb {
  config: DbConfig;
  db: Db;
  /** Closes the handle and deletes the database (file or PostgreSQL database). */
  close(): Promise<void>;
}

export interface DbTarget {
  name: DbDialect;
  /** A fresh database, already prepared. */
  open(): Promise<TestDb>;
  /** Frees what the target keeps between opens (the PostgreSQL template); call in afterAll. */
  dispose(): Promise<void>;
}

export interface DbTargetOptions {
  /** Runs on every fresh database before the test sees it, e.g. a service's migrations. */
  prepare?: (db: Db) => Promise<void>;
}

function sqliteTarget(prepare: DbTargetOptions["prepare"]): DbTarget {
  return {
    name: "sqlite",
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "soundmesh-db-"));
      const config: DbConfig = { kind: "sqlite", file: join(dir, "test.db") };
      const db = createDb(config);
      let closed: Promise<void> | undefined;
      const close = () =>
        (closed ??= db.close().finally(() => rmSync(dir, { recursive: true, force: true })));
      try {
        await prepare?.(db);
      } catch (error) {
        await close();
        throw error;
      }
      return { config, db, close };
    },
    dispose: () => Promise.resolve(),
  };
}

function postgresTarget(prepare: DbTargetOptions["prepare"]): DbTarget {
  let template: Promise<PgTestTemplate | null> | undefined;
  const templateOnce = () =>
    (template ??= pgTestTemplate(async (url) => {
      const db = createDb({ kind: "postgres", url, maxConnections: 2 });
      try {
        await prepare?.(db);
      } finally {
        await db.close();
      }
    }));
  return {
    name: "postgres",
    async open() {
      let database: PgTestDatabase | null;
      if (prepare) {
        const prepared = await templateOnce();
        database = prepared && (await prepared.clone());
      } else {
        database = await pgTestDatabase();
      }
      if (!database) throw new Error("PostgreSQL went away after it was found reachable");
      const config: DbConfig = { kind: "postgres", url: database.url, maxConnections: 4 };
      const db = createDb(config);
      const handle = database;
      let closed: Promise<void> | undefined;
      return { config, db, close: () => (closed ??= db.close().finally(() => handle.drop())) };
    },
    async dispose() {
      const prepared = await template;
      // A later open() prepares a new template, so disposing in more than one afterAll is harmless.
      template = undefined;
      await prepared?.drop();
    },
  };
}

/** SQLite always; PostgreSQL too when reachable (else a loud warning, or an error when CI is set). */
export async function dbTargets(options: DbTargetOptions = {}): Promise<DbTarget[]> {
  const targets = [sqliteTarget(options.prepare)];
  if (await isPgAvailable()) targets.push(postgresTarget(options.prepare));
  return targets;
}
