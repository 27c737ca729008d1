// The same Kysely queries give the same answers on SQLite and on PostgreSQL: the portable subset services rely on.
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDb, sql, type Db, type Kysely } from "@soundmesh/db";
import { dbTargets, testPgUrl, type TestDb } from "@soundmesh/test-kit";

interface Tables {
  tracks: { id: string; title: string; played_at: number | null; duration_ms: number; is_hidden: number };
}

async function createTracks(kysely: Kysely<Tables>): Promise<void> {
  await kysely.schema
    .createTable("tracks")
    .addColumn("id", "varchar(64)", (col) => col.primaryKey())
    .addColumn("title", "text", (col) => col.notNull())
    .addColumn("played_at", "bigint")
    .addColumn("duration_ms", "bigint", (col) => col.notNull())
    .addColumn("is_hidden", "integer", (col) => col.notNull().defaultTo(0))
    .execute();
}

function withDeadline<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const targets = await dbTargets({ prepare: (db) => createTracks(db.kysely as Kysely<Tables>) });

describe.each(targets)("the same queries on $name", (target) => {
  let test: TestDb;
  let kysely: Kysely<Tables>;
  beforeEach(async () => {
    test = await target.open();
    kysely = test.db.kysely as Kysely<Tables>;
  });
  afterEach(() => test.close());
  afterAll(() => target.dispose());

  it("reads epoch-ms bigints back as JS numbers, nulls as null", async () => {
    const playedAt = Date.UTC(2030, 0, 1, 12, 0, 0, 123);
    await kysely
      .insertInto("tracks")
      .values([
        { id: "a", title: "A", played_at: playedAt, duration_ms: 2 ** 40, is_hidden: 0 },
        { id: "b", title: "B", played_at: null, duration_ms: 1, is_hidden: 1 },
      ])
      .execute();
    const rows = await kysely.selectFrom("tracks").selectAll().orderBy("id").execute();
    expect(rows).toEqual([
      { id: "a", title: "A", played_at: playedAt, duration_ms: 2 ** 40, is_hidden: 0 },
      { id: "b", title: "B", played_at: null, duration_ms: 1, is_hidden: 1 },
    ]);
    expect(typeof rows[0]!.played_at).toBe("number");
  });

  it("counts as a number and sums bigints as a number", async () => {
    await kysely
      .insertInto("tracks")
      .values(
        [1, 2, 3].map((n) => ({
          id: `t${n}`,
          title: `T${n}`,
          played_at: null,
          duration_ms: n * 1000,
          is_hidden: 0,
        })),
      )
      .execute();
    const row = await kysely
      .selectFrom("tracks")
      .select((eb) => [eb.fn.countAll<number>().as("count"), eb.fn.max("duration_ms").as("longest")])
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ count: 3, longest: 3000 });
  });

  it("upserts with ON CONFLICT the same way: do nothing, then update", async () => {
    const insert = (title: string) =>
      kysely.insertInto("tracks").values({ id: "x", title, played_at: null, duration_ms: 1, is_hidden: 0 });
    const first = await insert("first")
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    const ignored = await insert("ignored")
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    expect(Number(first.numInsertedOrUpdatedRows)).toBe(1);
    expect(Number(ignored.numInsertedOrUpdatedRows)).toBe(0);
    await insert("updated")
      .onConflict((oc) => oc.column("id").doUpdateSet((eb) => ({ title: eb.ref("excluded.title") })))
      .execute();
    await expect(kysely.selectFrom("tracks").select("title").execute()).resolves.toEqual([
      { title: "updated" },
    ]);
  });

  it("returns deleted and updated rows with RETURNING", async () => {
    await kysely
      .insertInto("tracks")
      .values(["a", "b", "c"].map((id) => ({ id, title: id, played_at: null, duration_ms: 1, is_hidden: 0 })))
      .execute();
    const updated = await kysely
      .updateTable("tracks")
      .set({ is_hidden: 1 })
      .where("id", "=", "b")
      .returning(["id", "is_hidden"])
      .execute();
    expect(updated).toEqual([{ id: "b", is_hidden: 1 }]);
    const deleted = await kysely
      .deleteFrom("tracks")
      .where("id", "in", ["a", "c", "zzz"])
      .returning("id")
      .execute();
    expect(deleted.map((row) => row.id).sort()).toEqual(["a", "c"]);
  });

  it("rolls a failed transaction back entirely", async () => {
    const failing = kysely.transaction().execute(async (trx) => {
      await trx
        .insertInto("tracks")
        .values({ id: "a", title: "a", played_at: null, duration_ms: 1, is_hidden: 0 })
        .execute();
      await trx
        .insertInto("tracks")
        .values({ id: "a", title: "duplicate", played_at: null, duration_ms: 1, is_hidden: 0 })
        .execute();
    });
    await expect(failing).rejects.toThrow();
    await expect(kysely.selectFrom("tracks").selectAll().execute()).resolves.toEqual([]);
  });

  it("stores Unicode text unchanged and compares it byte for byte", async () => {
    const title = "Ünïcödé — 日本語 🎵";
    await kysely
      .insertInto("tracks")
      .values({ id: "u", title, played_at: null, duration_ms: 1, is_hidden: 0 })
      .execute();
    await expect(
      kysely.selectFrom("tracks").select("id").where("title", "=", title).execute(),
    ).resolves.toEqual([{ id: "u" }]);
    await expect(
      kysely.selectFrom("tracks").select("id").where("title", "=", title.toUpperCase()).execute(),
    ).resolves.toEqual([]);
  });

  it("names its dialect", () => {
    expect(test.db.dialect).toBe(target.name);
  });
});

describe.runIf(targets.some((t) => t.name === "postgres"))("createDb with PostgreSQL", () => {
  const postgres = targets.find((t) => t.name === "postgres")!;
  afterAll(() => postgres.dispose());

  it("parses bigints as numbers on its own pools only, leaving other pg clients at pg's defaults", async () => {
    const test = await postgres.open();
    const client = new pg.Client({ connectionString: testPgUrl() });
    try {
      const ours = await sql<{ n: number }>`select 9007199254740991::int8 as n`.execute(test.db.kysely);
      expect(ours.rows).toEqual([{ n: Number.MAX_SAFE_INTEGER }]);
      await client.connect();
      const theirs = await client.query<{ n: string }>("select 42::int8 as n");
      expect(theirs.rows).toEqual([{ n: "42" }]);
    } finally {
      await client.end();
      await test.close();
    }
  });

  it("survives the server ending an idle pooled connection: the next query reconnects", async () => {
    const test = await postgres.open();
    let report: (error: Error) => void = () => undefined;
    const reported = new Promise<Error>((resolve) => (report = resolve));
    const db: Db = createDb(test.config, { onPoolError: (error) => report(error) });
    const admin = new pg.Client({ connectionString: testPgUrl() });
    try {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db.kysely);
      await admin.connect();
      await admin.query("select pg_terminate_backend($1)", [rows[0]!.pid]);
      // The idle client's error arrives asynchronously; the pool reports it instead of crashing the process.
      const error = await withDeadline(reported, 5_000, "the pool did not report the ended connection");
      expect(error.message).toMatch(/terminat/i);
      const after = await sql<{ one: number }>`select 1 as one`.execute(db.kysely);
      expect(after.rows).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
      await db.close();
      await test.close();
    }
  });
});
