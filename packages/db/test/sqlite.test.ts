// SQLite specifics of createDb and migrateService: WAL mode and its pragmas, durability, two processes migrating at once.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import BetterSqlite3 from "better-sqlite3";
import { cachingStatements, createDb, migrateService, sql, type Kysely } from "@soundmesh/db";
import { startWalCheckpointer } from "../src/wal-checkpointer";

const here = dirname(fileURLToPath(import.meta.url));
const childScript = join(here, "fixtures/migrate-child.ts");
const walWriterScript = join(here, "fixtures/wal-writer-child.ts");
const repoRoot = resolve(here, "../../..");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "soundmesh-sqlite-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Waits on a condition (no fixed sleeps): checks it every 20 ms, for at most 60 s on a loaded machine. */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 20));
  }
}

describe("createDb with SQLite", () => {
  it("opens the file in WAL mode with NORMAL sync, foreign keys on and a busy timeout", async () => {
    const db = createDb({ kind: "sqlite", file: join(dir, "wal.db") });
    try {
      const pragma = async (name: string) => {
        const { rows } = await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(db.kysely);
        return Object.values(rows[0] ?? {})[0];
      };
      expect(db.dialect).toBe("sqlite");
      expect(await pragma("journal_mode")).toBe("wal");
      expect(await pragma("synchronous")).toBe(1); // NORMAL
      expect(await pragma("foreign_keys")).toBe(1);
      expect(await pragma("busy_timeout")).toBe(5000);
      await sql`create table t (id integer primary key)`.execute(db.kysely);
      await sql`insert into t (id) values (1)`.execute(db.kysely);
      expect(existsSync(join(dir, "wal.db-wal"))).toBe(true);
    } finally {
      await db.close();
    }
  });

  it("reuses prepared statements, and they follow schema changes and still stream", async () => {
    const db = createDb({ kind: "sqlite", file: join(dir, "statements.db") });
    const kysely = db.kysely as Kysely<{ t: { id: number; note: string; extra?: string | null } }>;
    try {
      await sql`create table t (id integer primary key, note text not null)`.execute(db.kysely);
      for (let id = 1; id <= 3; id += 1)
        await kysely
          .insertInto("t")
          .values({ id, note: `n${id}` })
          .execute();
      const all = () => kysely.selectFrom("t").selectAll().orderBy("id").execute();
      // The same SQL text, bound to other values each time: the answers are each run's own.
      const one = (id: number) =>
        kysely.selectFrom("t").select("note").where("id", "=", id).executeTakeFirst();
      expect([await one(1), await one(3), await one(9)]).toEqual([{ note: "n1" }, { note: "n3" }, undefined]);
      expect(await all()).toHaveLength(3);
      // A statement prepared before a column was added answers with it afterwards.
      await sql`alter table t add column extra text`.execute(db.kysely);
      await kysely.updateTable("t").set({ extra: "x" }).where("id", "=", 2).execute();
      expect((await all())[1]).toEqual({ id: 2, note: "n2", extra: "x" });
      // Streaming a query already cached, then running it again: each gets its rows.
      const streamed: number[] = [];
      for await (const row of kysely.selectFrom("t").selectAll().orderBy("id").stream())
        streamed.push(row.id);
      expect(streamed).toEqual([1, 2, 3]);
      expect(await all()).toHaveLength(3);
    } finally {
      await db.close();
    }
  });

  it("prepares a statement once per SQL text, keeping the most recently used", () => {
    const database = new BetterSqlite3(":memory:");
    try {
      const statements = cachingStatements(database, 2);
      const first = statements.prepare("select 1 as n");
      expect(statements.prepare("select 1 as n")).toBe(first);
      expect(first.all([])).toEqual([{ n: 1 }]);
      statements.prepare("select 2 as n");
      statements.prepare("select 1 as n");
      // Over the size, the least recently used ("select 2") went; "select 1" stayed.
      statements.prepare("select 3 as n");
      expect(statements.prepare("select 1 as n")).toBe(first);
      expect(statements.prepare("select ? as n").all([7])).toEqual([{ n: 7 }]);
    } finally {
      database.close();
    }
  });

  it("creates missing parent folders of the database file", async () => {
    const file = join(dir, "nested/deeper/data.db");
    const db = createDb({ kind: "sqlite", file });
    await sql`create table t (id integer primary key)`.execute(db.kysely);
    await db.close();
    expect(existsSync(file)).toBe(true);
  });

  it("keeps committed rows across close and reopen", async () => {
    const file = join(dir, "durable.db");
    const first = createDb({ kind: "sqlite", file });
    await sql`create table t (id integer primary key, note text not null)`.execute(first.kysely);
    await first.kysely.insertInto("t").values({ id: 1, note: "kept" }).execute();
    await first.close();
    const second = createDb({ kind: "sqlite", file });
    try {
      await expect(second.kysely.selectFrom("t").selectAll().execute()).resolves.toEqual([
        { id: 1, note: "kept" },
      ]);
    } finally {
      await second.close();
    }
  });

  it("checkpoints the WAL in a worker, not in the writer's commits, and keeps the WAL from growing", async () => {
    const file = join(dir, "checkpoints.db");
    const db = createDb({ kind: "sqlite", file });
    try {
      const { rows } = await sql.raw<Record<string, unknown>>("pragma wal_autocheckpoint").execute(db.kysely);
      expect(Object.values(rows[0] ?? {})[0]).toBe(10_000); // the writer's backstop only
      await sql`create table t (id integer primary key, note text not null)`.execute(db.kysely);
      const note = "x".repeat(4096);
      let id = 0;
      // Five rounds of 1 MiB (about 250 pages, far below the writer's 10,000): only the worker copies them into the
      // database file, and once it has, the next commit starts the WAL over from its beginning.
      for (let round = 1; round <= 5; round += 1) {
        await db.kysely.transaction().execute(async (trx) => {
          for (let i = 0; i < 256; i += 1) {
            id += 1;
            await trx.insertInto("t").values({ id, note }).execute();
          }
        });
        await waitUntil(() => statSync(file).size >= round * 1024 * 1024, `round ${round} checkpointed`);
      }
      // Without the worker the WAL would hold all five rounds (over 5 MiB).
      expect(statSync(`${file}-wal`).size).toBeLessThan(3 * 1024 * 1024);
    } finally {
      await db.close();
    }
    // The last connection's close checkpoints and removes the WAL, as before.
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it("ends the checkpoint worker once the WAL is all copied, and starts it again when the WAL is written", async () => {
    const file = join(dir, "idle.db");
    const writer = new BetterSqlite3(file);
    writer.pragma("journal_mode = WAL");
    writer.pragma("wal_autocheckpoint = 0"); // only the worker copies
    writer.exec("create table t (id integer primary key, note text not null)");
    const insert = writer.prepare("insert into t (note) values (?)");
    const writeHalfMiB = () =>
      writer.transaction(() => {
        for (let i = 0; i < 128; i += 1) insert.run("x".repeat(4096));
      })();
    const errors: string[] = [];
    const checkpointer = startWalCheckpointer(file, (message) => errors.push(message), { idleStopMs: 300 });
    try {
      writeHalfMiB();
      await waitUntil(() => checkpointer.starts === 1, "the worker's start");
      await waitUntil(() => statSync(file).size >= 512 * 1024, "the first checkpoint");
      // Nothing more to copy: the worker ends by itself, and stays ended while nothing is written.
      await waitUntil(() => !checkpointer.running, "the idle worker's end");
      const sizeAfterFirst = statSync(file).size;
      writeHalfMiB();
      await waitUntil(() => checkpointer.starts === 2, "the worker's second start");
      await waitUntil(() => statSync(file).size >= sizeAfterFirst + 512 * 1024, "the second checkpoint");
      expect(errors).toEqual([]);
    } finally {
      await checkpointer.stop();
      writer.close();
    }
    expect(checkpointer.running).toBe(false);
  });

  it("loses no committed row to kill -9 while the worker checkpoints", async () => {
    const file = join(dir, "killed.db");
    const child = spawn(process.execPath, ["--import", "tsx", walWriterScript, file], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let committed = 0;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/committed (\d+)/g)) committed = Number(match[1]);
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
    try {
      // Killed once the worker has copied WAL pages into the database file while commits go on (2 MiB of them).
      await waitUntil(
        () => child.exitCode === null && existsSync(file) && statSync(file).size >= 2 * 1024 * 1024,
        `the child's checkpoints (${stderr})`,
      );
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    expect(committed).toBeGreaterThan(0);
    const reopened = new BetterSqlite3(file);
    try {
      expect(reopened.pragma("integrity_check", { simple: true })).toBe("ok");
      const { count, last } = reopened.prepare("select count(*) as count, max(id) as last from t").get() as {
        count: number;
        last: number;
      };
      // Every row the child reported committed is there (one more transaction may have landed after its last line).
      expect(last).toBeGreaterThanOrEqual(committed);
      expect(count).toBe(last);
    } finally {
      reopened.close();
    }
  });

  it("enforces foreign keys", async () => {
    const db = createDb({ kind: "sqlite", file: join(dir, "fk.db") });
    try {
      await sql`create table parent (id integer primary key)`.execute(db.kysely);
      await sql`create table child (id integer primary key, parent_id integer not null references parent(id))`.execute(
        db.kysely,
      );
      await expect(sql`insert into child (id, parent_id) values (1, 42)`.execute(db.kysely)).rejects.toThrow(
        /FOREIGN KEY/,
      );
    } finally {
      await db.close();
    }
  });
});

interface Child {
  lines: string[];
  waitFor(line: string, timeoutMs?: number): Promise<void>;
  send(line: string): void;
  kill(): void;
  exited: Promise<number | null>;
}

function startChild(file: string, mode = ""): Child {
  const child = spawn(process.execPath, ["--import", "tsx", childScript, file, mode], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let stderr = "";
  const waiters: Array<() => void> = [];
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    lines.push(...parts);
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  return {
    lines,
    exited,
    send: (line) => child.stdin.write(`${line}\n`),
    kill: () => child.kill("SIGKILL"),
    async waitFor(line, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!lines.includes(line)) {
        if (child.exitCode !== null)
          throw new Error(`child exited (${child.exitCode}) before "${line}":\n${stderr}`);
        const remainingMs = deadline - Date.now();
        if (remainingMs <= 0)
          throw new Error(`no "${line}" from the child within ${timeoutMs} ms:\n${stderr}`);
        await new Promise<void>((wake) => {
          const timer = setTimeout(wake, remainingMs);
          waiters.push(() => {
            clearTimeout(timer);
            wake();
          });
          child.once("exit", () => {
            clearTimeout(timer);
            wake();
          });
        });
      }
    },
  };
}

const appliedBy = (child: Child): string[] => {
  const line = child.lines.find((candidate) => candidate.startsWith("{"));
  return line ? (JSON.parse(line) as { applied: string[] }).applied : [];
};

describe("migrateService with SQLite across processes", () => {
  it("holds the write lock while migrating, so a second process waits, then finds everything applied", async () => {
    const file = join(dir, "shared.db");
    const first = startChild(file, "hold");
    await first.waitFor("holding");
    const second = startChild(file, "probe");
    await second.waitFor("starting");
    expect(second.lines).toContain("lock is held");
    first.send("go");
    expect(await first.exited).toBe(0);
    expect(await second.exited).toBe(0);
    expect(appliedBy(first)).toEqual(["001-a", "002-b"]);
    expect(appliedBy(second)).toEqual([]);
  });

  it("leaves a migration run killed midway without a trace: the next run applies it from scratch", async () => {
    const file = join(dir, "interrupted.db");
    const first = startChild(file, "hold");
    await first.waitFor("holding");
    // Killed inside its first migration, after that migration's table was created in the open transaction.
    first.kill();
    await first.exited;
    const db = createDb({ kind: "sqlite", file });
    try {
      const table = (name: string) => ({
        up: async (kysely: Kysely<unknown>) => {
          await kysely.schema
            .createTable(name)
            .addColumn("id", "integer", (col) => col.primaryKey())
            .execute();
        },
      });
      await expect(
        migrateService(db, "alpha", { "001-a": table("a"), "002-b": table("b") }),
      ).resolves.toEqual(["001-a", "002-b"]);
    } finally {
      await db.close();
    }
  });
});
