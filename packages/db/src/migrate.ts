// Per-service migrations: each service keeps its own migration table, so services evolve their tables independently.
import { Migrator, type Migration, type MigrationProvider } from "kysely";
import { AppError } from "@soundmesh/protocol";
import type { Db } from "./create-db";

/** Migrations of one service, by name; names sort in the order they apply ("001-users", "002-tokens"). */
export type ServiceMigrations = Record<string, Migration>;

export async function migrateService(db: Db, service: string, migrations: ServiceMigrations): Promise<string[]> {
  if (!/^[a-z][a-z0-9_-]*$/.test(service)) throw new AppError("BAD_REQUEST", `bad service name ${service}`);
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };
  const table = `migrations_${service.replaceAll("-", "_")}`;
  const migrator = new Migrator({
    db: db.kysely,
    provider,
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new AppError("INTERNAL", `migrations of ${service} failed`, { cause: error });
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
