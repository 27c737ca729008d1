// The per-service migration runner, on SQLite and on PostgreSQL: order, idempotence, separate tables, failures.
import { afterEach, describe, expect, it } from "vitest";
import {
  createDb,
  migrateService,
  sql,
  type Db,
  type Migration,
  type ServiceMigrations,
} from "@soundmesh/db";
import { AppError } from "@soundmesh/protocol";
import { dbTargets, type TestDb } from "@soundmesh/test-kit";

const targets = await dbTargets();

function createTableMigration(table: string, log?: string[]): Migration {
  return {
    async up(db) {
      log?.push(table);
      await db.schema
        .createTable(table)
        .addColumn("id", "integer", (col) => col.primaryKey())
        .execute();
    },
  };
}

async function tableNames(db: Db): Promise<string[]> {
  const tables = await db.kysely.introspection.getTables({ withInternalKyselyTables: true });
  return tables.map((table) => table.name).sort();
}

async function appliedNames(db: Db, table: string): Promise<string[]> {
  const rows: Array<{ name: string }> = await db.kysely
    .selectFrom(table)
    .select("name")
    .orderBy("name")
    .execute();
  return rows.map((row) => row.name);
}

describe.each(targets)("migrateService on $name", (target) => {
  let current: TestDb | undefined;
  const open = async () => (current = await target.open());
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  it("applies migrations in the order of their names, whatever the object's key order", async () => {
    const { db } = await open();
    const log: string[] = [];
    const migrations: ServiceMigrations = {
      "003-c": createTableMigration("c", log),
      "001-a": createTableMigration("a", log),
      "002-b": createTableMigration("b", log),
    };
    await expect(migrateService(db, "alpha", migrations)).resolves.toEqual(["001-a", "002-b", "003-c"]);
    expect(log).toEqual(["a", "b", "c"]);
  });

  it("is idempotent: a second run applies nothing and a later migration applies on its own", async () => {
    const { db } = await open();
    const log: string[] = [];
    const first = { "001-a": createTableMigration("a", log) };
    await migrateService(db, "alpha", first);
    await expect(migrateService(db, "alpha", first)).resolves.toEqual([]);
    await expect(
      migrateService(db, "alpha", { ...first, "002-b": createTableMigration("b", log) }),
    ).resolves.toEqual(["002-b"]);
    expect(log).toEqual(["a", "b"]);
  });

  it("keeps one migration table per service, so equal names in two services both apply", async () => {
    const { db } = await open();
    await migrateService(db, "alpha", { "001-init": createTableMigration("alpha_things") });
    await migrateService(db, "beta-two", { "001-init": createTableMigration("beta_things") });
    const tables = await tableNames(db);
    expect(tables).toEqual(
      expect.arrayContaining(["migrations_alpha", "migrations_beta_two", "alpha_things", "beta_things"]),
    );
    expect(await appliedNames(db, "migrations_alpha")).toEqual(["001-init"]);
    expect(await appliedNames(db, "migrations_beta_two")).toEqual(["001-init"]);
  });

  it("rejects a service name that could not be a table name with BAD_REQUEST", async () => {
    const { db } = await open();
    for (const name of ["", "Alpha", "1abc", "a;drop table x", "a b"]) {
      await expect(migrateService(db, name, {})).rejects.toMatchObject({ code: "BAD_REQUEST" });
    }
  });

  it("reports a failing migration as INTERNAL with its cause and leaves none of its changes behind", async () => {
    const { db } = await open();
    const broken: Migration = {
      async up(kysely) {
        await kysely.schema.createTable("half_done").addColumn("id", "integer").execute();
        await sql`this is not sql`.execute(kysely);
      },
    };
    const error = await migrateService(db, "alpha", { "001-broken": broken }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("INTERNAL");
    expect((error as AppError).cause).toBeInstanceOf(Error);
    expect(await tableNames(db)).not.toContain("half_done");
    // Once fixed, the same migration applies cleanly.
    await expect(
      migrateService(db, "alpha", { "001-broken": createTableMigration("half_done") }),
    ).resolves.toEqual(["001-broken"]);
  });

  it("refuses a new migration that sorts before one already applied", async () => {
    const { db } = await open();
    await migrateService(db, "alpha", { "002-b": createTableMigration("b") });
    await expect(
      migrateService(db, "alpha", { "001-a": createTableMigration("a"), "002-b": createTableMigration("b") }),
    ).rejects.toMatchObject({ code: "INTERNAL" });
  });

  // SQLite's cross-process case is in sqlite.test.ts: two connections in one thread would block each other's busy wait.
  it.runIf(target.name === "postgres")(
    "lets two pools migrate the same database at once: each migration runs exactly once",
    async () => {
      const first = await open();
      const log: string[] = [];
      const migrations = { "001-a": createTableMigration("a", log), "002-b": createTableMigration("b", log) };
      const second = createDb(first.config);
      try {
        const results = await Promise.all([
          migrateService(first.db, "alpha", migrations),
          migrateService(second, "alpha", migrations),
        ]);
        expect(results.flat().sort()).toEqual(["001-a", "002-b"]);
        expect(log).toEqual(["a", "b"]);
      } finally {
        await second.close();
      }
    },
  );
});
