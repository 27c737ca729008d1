// Tags read in worker threads are the tags read in the scan's own thread: the same catalog from the real-world library
// either way, with unreadable files recorded alike; and a worker that dies hands its files back to be read here.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "@soundmesh/db";
import {
  SqlCatalogStore,
  migrateCatalogStore,
  scanLibrary,
  type ScanResult,
} from "@soundmesh/service-catalog";
import { generateFixtureLibrary, generateRealWorldLibrary } from "@soundmesh/test-kit";
import { readAll, type ReadJob, type ReadOutcome } from "../src/scan-workers";

const work = mkdtempSync(join(tmpdir(), "soundmesh-scan-workers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let roots: string[] = [];
beforeAll(async () => {
  const [fixture, realWorld] = await Promise.all([generateFixtureLibrary(), generateRealWorldLibrary()]);
  roots = [fixture.root, realWorld.root];
}, 120_000);

/** A scan into a new SQLite database with `readers` workers: its result, tracks (ids aside) and errors. */
async function scanWith(readers: number) {
  const db = createDb({ kind: "sqlite", file: join(work, `readers-${readers}.db`) });
  try {
    await migrateCatalogStore(db);
    const store = new SqlCatalogStore(db);
    const result: ScanResult = await scanLibrary({ roots, store, nowMs: () => 1_000, readers });
    const rows = await store.tracksByIds((await store.fileStates()).map((state) => state.id));
    const byPath = rows.map(({ id: _id, ...row }) => row).sort((a, b) => a.path.localeCompare(b.path));
    const errors = (await store.scanErrors(100, 0)).items.map(({ path, reason }) => ({ path, reason }));
    return { result, byPath, errors };
  } finally {
    await db.close();
  }
}

describe("tag reading in worker threads", () => {
  it("gives the catalog the scan's own thread gives, unreadable files included", async () => {
    const here = await scanWith(0);
    const inWorkers = await scanWith(2);
    expect(here.result.added).toBeGreaterThan(20);
    expect(here.result.errors).toBeGreaterThan(0);
    expect(inWorkers.result).toEqual(here.result);
    expect(inWorkers.byPath).toEqual(here.byPath);
    expect(inWorkers.errors).toEqual(here.errors);
  }, 120_000);

  it("reads the files of a worker that dies in this thread, losing none", async () => {
    const dying = join(work, "dying-worker.mjs");
    writeFileSync(dying, "process.exit(3);\n");
    const jobs: ReadJob[] = [
      { root: work, path: join(work, "missing.mp3"), sizeBytes: 10 },
      { root: work, path: join(work, "empty.flac"), sizeBytes: 0 },
      { root: work, path: join(work, "notes.txt"), sizeBytes: 5 },
    ];
    const outcomes = new Map<number, ReadOutcome>();
    await readAll(jobs, {
      readers: 2,
      withPicture: false,
      onRead: (index, outcome) => outcomes.set(index, outcome),
      script: { file: pathToFileURL(dying) },
    });
    expect([...outcomes.keys()].sort()).toEqual([0, 1, 2]);
    expect(outcomes.get(0)).toEqual({ error: expect.stringMatching(/ENOENT/) });
    expect(outcomes.get(1)).toEqual({ error: "empty file (0 bytes)" });
    expect(outcomes.get(2)).toEqual({ error: "not an audio file" });
  });

  it("reads in the workers themselves, the same as in this thread, the embedded picture only when asked", async () => {
    const files = readdirSync(roots[0]!, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.startsWith("."))
      .map((entry) => join(entry.parentPath, entry.name));
    const jobs = files.map((path) => ({ root: roots[0]!, path, sizeBytes: statSync(path).size }));
    const readWith = async (readers: number, withPicture: boolean) => {
      const outcomes: ReadOutcome[] = [];
      const { readInWorkers } = await readAll(jobs, {
        readers,
        withPicture,
        onRead: (index, outcome) => (outcomes[index] = outcome),
      });
      return { outcomes, readInWorkers };
    };
    const here = await readWith(0, true);
    const inWorkers = await readWith(2, true);
    expect(here.readInWorkers).toBe(0);
    expect(inWorkers.readInWorkers).toBe(jobs.length);
    expect(inWorkers.outcomes).toEqual(here.outcomes);
    const pictured = here.outcomes.filter((outcome) => "tags" in outcome && outcome.tags.picture);
    expect(pictured.length).toBeGreaterThan(0);
    const withoutPictures = await readWith(2, false);
    for (const outcome of withoutPictures.outcomes)
      if ("tags" in outcome) expect(outcome.tags.picture).toBeUndefined();
    expect(
      withoutPictures.outcomes.filter((outcome) => "tags" in outcome && outcome.tags.hasPicture),
    ).toHaveLength(pictured.length);
  }, 60_000);
});
