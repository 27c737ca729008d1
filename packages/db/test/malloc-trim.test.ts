// trimMallocArenas: glibc's malloc_trim reached through SQLite's extension loader gives the free pages inside the
// arenas back to the system (a plain free() returns only the top of the heap).
import { readFileSync } from "node:fs";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { mallocTrimUnavailable, trimMallocArenas } from "@soundmesh/db";

/** Anonymous resident memory of this process (the heap glibc hands out), in bytes. */
function residentAnonymousBytes(): number {
  return Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) * 1024;
}

/** An in-memory database of about `megabytes` MiB: its pages are malloc'd one by one. */
function fill(database: BetterSqlite3.Database, rows: number): void {
  const insert = database.prepare("insert into t (note) values (?)");
  database.transaction(() => {
    for (let i = 0; i < rows; i += 1) insert.run("x".repeat(1000) + i);
  })();
}

const MiB = 1024 * 1024;
const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
const isGlibc = process.platform === "linux" && report.header?.glibcVersionRuntime !== undefined;

describe.runIf(isGlibc)("trimMallocArenas on glibc", () => {
  it("gives back the pages of freed memory that lies between memory still in use", () => {
    // Two databases filled in turns, so the pages of one lie between the other's; closing the first leaves holes
    // that free() cannot return (they are not at the top of the heap).
    const freed = new BetterSqlite3(":memory:");
    const kept = new BetterSqlite3(":memory:");
    try {
      for (const database of [freed, kept])
        database.exec("create table t (id integer primary key, note text)");
      for (let round = 0; round < 16; round += 1) {
        fill(freed, 2_000);
        fill(kept, 200);
      }
      freed.close();
      const before = residentAnonymousBytes();
      expect(trimMallocArenas()).toBe(true);
      const after = residentAnonymousBytes();
      // About 32 MiB of the closed database's pages were free inside the heap.
      expect(before - after).toBeGreaterThan(16 * MiB);
      expect(mallocTrimUnavailable()).toBeUndefined();
      // The kept database is whole.
      expect(kept.prepare("select count(*) as count from t").get()).toEqual({ count: 3_200 });
    } finally {
      kept.close();
    }
  });
});

describe.runIf(!isGlibc)("trimMallocArenas elsewhere", () => {
  it("says it is not available rather than failing", () => {
    expect(trimMallocArenas()).toBeUndefined();
    expect(mallocTrimUnavailable()).toBeDefined();
  });
});
