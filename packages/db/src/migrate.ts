// Per-service migrations: each service keeps its own migration table, so services evolve their tables independently.
import {
  Migrator,
  sql,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
} from "kysely";
import { AppError } from "@soundmesh/protocol";
import type { Db } from "./create-db";

/** Migrations of one service, by name; names sort in the order they apply ("001-users", "002-tokens"). */
export type ServiceMigrations = Record<string, Migration>;

const migrationTableOf = (service: string) => `migrations_${service.replaceAll("-", "_")}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
function migratorFor(kysely: Kysely<any>, service: string, migrations: ServiceMigrations): Migrator {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };
  const table = migrationTableOf(service);
  return new Migrator({
    db: kysely,
    provider,
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
  });
}

/**
 * Kysely runs SQLite migrations outside any transaction and without a lock: a failing migration would leave
 * half its changes behind, and two processes (the server and the CLI) could run the same migration twice.
 * One BEGIN IMMEDIATE transaction around the whole run fixes both: SQLite's DDL is transactional, and the
 * write lock makes the second process wait (busy_timeout), then find everything applied.
 */
async function migrateSqlite(
  db: Db,
  service: string,
  migrations: ServiceMigrations,
): Promise<MigrationResultSet> {
  return db.kysely.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    let outcome: MigrationResultSet;
    try {
      outcome = await migratorFor(connection, service, migrations).migrateToLatest();
    } catch (error) {
      await sql`rollback`.execute(connection);
      throw error;
    }
    await sql.raw(outcome.error === undefined ? "commit" : "rollback").execute(connection);
    return outcome;
  });
}

/**
 * Whether the SQLite migration table records exactly these migrations, so there is nothing to run. One read, where
 * Kysely's migrator introspects every table of the database (columns too) several times before finding that out:
 * the bulk of a short CLI command's time on a database the server has filled.
 */
async function isSqliteUpToDate(db: Db, service: string, migrations: ServiceMigrations): Promise<boolean> {
  const table = migrationTableOf(service);
  const found = await sql`select 1 from sqlite_master where type = 'table' and name = ${table}`.execute(
    db.kysely,
  );
  if (found.rows.length === 0) return false;
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(table)}`.execute(db.kysely);
  const applied = new Set(rows.map((row) => row.name));
  const wanted = Object.keys(migrations);
  return applied.size === wanted.length && wanted.every((name) => applied.has(name));
}

export async function migrateService(
  db: Db,
  service: string,
  migrations: ServiceMigrations,
): Promise<string[]> {
  if (!/^[a-z][a-z0-9_-]*$/.test(service)) throw new AppError("BAD_REQUEST", `bad service name ${service}`);
  if (db.dialect === "sqlite" && (await isSqliteUpToDate(db, service, migrations))) return [];
  // PostgreSQL: Kysely takes an advisory lock and runs all pending migrations in one transaction.
  const { error, results } =
    db.dialect === "sqlite"
      ? await migrateSqlite(db, service, migrations)
      : await migratorFor(db.kysely, service, migrations).migrateToLatest();
  if (error) throw new AppError("INTERNAL", `migrations of ${service} failed`, { cause: error });
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
