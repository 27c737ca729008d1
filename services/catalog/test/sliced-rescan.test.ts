// A rescan cut into the smallest turns (stored states read two at a time, the event loop given a turn at every file)
// finds every change a rescan in long turns finds: added, changed, moved and removed files alike, on SQLite and
// PostgreSQL (the pages are read in path order by each database); and it does give the event loop turns meanwhile.
import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SqlCatalogStore,
  migrateCatalogStore,
  scanLibrary,
  type ScanResult,
} from "@soundmesh/service-catalog";
import { dbTargets, generateFixtureLibrary, type FixtureLibrary } from "@soundmesh/test-kit";
import type { CatalogStore } from "../src/store";
import type { TurnOptions } from "../src/turns";

let fixture: FixtureLibrary;
const work = mkdtempSync(join(tmpdir(), "soundmesh-sliced-rescan-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(async () => {
  fixture = await generateFixtureLibrary();
}, 120_000);

const targets = await dbTargets({ prepare: async (db) => void (await migrateCatalogStore(db)) });
afterAll(async () => Promise.all(targets.map((target) => target.dispose())));

const tiny: TurnOptions = { budgetMs: 0, checkEvery: 1, pageSize: 2 };

/** The catalog's tracks by path, ids included. */
async function catalogOf(store: CatalogStore) {
  const rows = await store.tracksByIds((await store.fileStates()).map((state) => state.id));
  return new Map(rows.map((row) => [row.path, row]));
}

describe.each(targets)("a rescan in the smallest turns on $name", (target) => {
  it("finds what a rescan in long turns finds: added, changed, moved and removed files", async () => {
    const library = join(work, `library-${target.name}`);
    cpSync(fixture.root, library, { recursive: true });
    const sliced = await target.open();
    const whole = await target.open();
    try {
      // Two catalogs of the same library: one scanned in the smallest turns, one in turns longer than the scan.
      const slicedStore = new SqlCatalogStore(sliced.db);
      const wholeStore = new SqlCatalogStore(whole.db);
      const scanBoth = async () => {
        const options = { roots: [library], nowMs: () => 1_000, readers: 0 };
        const inTurns = await scanLibrary({ ...options, store: slicedStore, turns: tiny });
        const inOne = await scanLibrary({ ...options, store: wholeStore, turns: { budgetMs: 1e9 } });
        // Ids are made afresh in each catalog: the removed ones are compared by count here, by id below.
        const counted = ({ removedIds, ...result }: ScanResult) => ({
          ...result,
          removedIds: removedIds.length,
        });
        return { inTurns: counted(inTurns), inOne: counted(inOne), removedIds: inTurns.removedIds };
      };
      const first = await scanBoth();
      expect(first.inTurns).toEqual(first.inOne);
      const total = fixture.audioFiles + fixture.badFiles.length;
      expect(first.inTurns.added).toBeGreaterThan(10);
      const before = await catalogOf(slicedStore);

      const unchanged = await scanBoth();
      expect(unchanged.inTurns).toMatchObject({ added: 0, updated: 0, removed: 0, unchanged: total });
      expect(unchanged.inOne).toEqual(unchanged.inTurns);

      const movedFrom = join(library, "Solo Artist/Single/01 Only Song.m4a");
      const movedTo = join(library, "Solo Artist/Single/01 Only Song (moved).m4a");
      renameSync(movedFrom, movedTo);
      const removed = join(library, "Compilations/Summer Hits/01 Sunny.ogg");
      unlinkSync(removed);
      const touched = join(library, "Sigur Rós/Ágætis byrjun/02 Starálfur.flac");
      utimesSync(touched, new Date(), new Date(Date.now() + 5_000));
      mkdirSync(join(library, "Added"));
      const added = join(library, "Added/02 Copy.flac");
      cpSync(join(library, "Sigur Rós/Ágætis byrjun/01 Svefn-g-englar.flac"), added);

      const changes = await scanBoth();
      expect(changes.inTurns).toMatchObject({ added: 1, updated: 2, removed: 1, unchanged: total - 3 });
      expect(changes.inOne).toEqual(changes.inTurns);
      expect(changes.removedIds).toEqual([before.get(removed)!.id]);

      const after = await catalogOf(slicedStore);
      expect(after.has(removed)).toBe(false);
      expect(after.get(movedTo)?.id).toBe(before.get(movedFrom)!.id);
      expect(after.get(touched)?.id).toBe(before.get(touched)!.id);
      expect(after.get(added)?.album).toBe(before.get(touched)!.album);
      // The same catalog as the rescan in long turns made, row for row but the new ids.
      const rowsOf = (catalog: typeof after) =>
        [...catalog.values()]
          .map(({ id: _id, album_id: _album, ...row }) => row)
          .sort((a, b) => a.path.localeCompare(b.path));
      expect(rowsOf(after)).toEqual(rowsOf(await catalogOf(wholeStore)));
    } finally {
      await sliced.close();
      await whole.close();
    }
  }, 120_000);

  it("gives the event loop a turn between two pages of stored states", async () => {
    const library = join(work, `library-turns-${target.name}`);
    cpSync(fixture.root, library, { recursive: true });
    const opened = await target.open();
    try {
      const store = new SqlCatalogStore(opened.db);
      await scanLibrary({ roots: [library], store, nowMs: () => 1_000, readers: 0 });
      // A loop of its own beside the rescan: each turn it gets counts one. Every page must find it further on.
      let ticks = 0;
      let running = true;
      const tick = () => {
        ticks += 1;
        if (running) setImmediate(tick);
      };
      setImmediate(tick);
      const ticksAtPages: number[] = [];
      const counting = Object.create(store) as SqlCatalogStore;
      counting.fileStates = (page) => {
        if (page) ticksAtPages.push(ticks);
        return store.fileStates(page);
      };
      const result = await scanLibrary({
        roots: [library],
        store: counting,
        nowMs: () => 1_000,
        turns: tiny,
      });
      running = false;
      expect(result).toMatchObject({ added: 0, updated: 0, removed: 0 });
      const tracks = (await store.fileStates()).length;
      expect(ticksAtPages.length).toBe(Math.floor(tracks / 2) + 1);
      for (let i = 1; i < ticksAtPages.length; i++)
        expect(ticksAtPages[i]!).toBeGreaterThan(ticksAtPages[i - 1]!);
    } finally {
      await opened.close();
    }
  }, 120_000);
});
