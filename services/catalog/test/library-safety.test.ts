// A library that looks different loses nothing: missing, replaced, unreadable and emptied folders stop the scan,
// mass removals wait for a confirmation, and removed tracks keep their ids as tombstones until their files return.
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { catalogChangedEvent } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  SqlCatalogStore,
  TOMBSTONE_KEEP_MS,
  catalogManifest,
  createCatalogService,
  migrateCatalogStore,
} from "@soundmesh/service-catalog";
import { dbTargets, writeWav } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-safety-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `count` distinct tagged files in `folder`/Album, named 001.wav… */
function makeLibrary(folder: string, count: number, from = 0): string[] {
  mkdirSync(join(folder, "Album"), { recursive: true });
  return Array.from({ length: count }, (_, i) =>
    writeWav(join(folder, "Album", `${String(from + i).padStart(3, "0")}.wav`), {
      title: `Song ${from + i}`,
      artist: "Tester",
      album: "Album",
      seed: from + i + 1,
      seconds: 0.2,
    }),
  );
}

async function startCatalog(db: Db, folders: string[], nowMs = () => Date.now()) {
  const bus = createInProcessBus();
  const store = new SqlCatalogStore(db);
  const service = createCatalogService({
    config: { libraryFolders: folders, cacheDir: join(work, `cache-${Math.random()}`) },
    logger,
    bus: bus.connect(catalogManifest),
    store,
    clock: { now: nowMs },
  });
  await service.start();
  const changes: Array<{ removed: number; removedTrackIds?: string[] | undefined }> = [];
  await bus
    .connect({ service: "search", calls: [], subscribes: ["catalog.changed"] })
    .subscribe(catalogChangedEvent, (change) => void changes.push(change));
  const scan = async (allowMassRemoval = false) => {
    service.startScan(false, allowMassRemoval);
    return service.scanFinished();
  };
  /** Track id by file name. */
  const ids = async () =>
    new Map((await store.fileStates()).map((state) => [state.path.split("/").pop()!, state.id]));
  return { service, store, scan, ids, changes, stop: () => service.stop() };
}

const targets = await dbTargets({ prepare: async (db) => void (await migrateCatalogStore(db)) });
afterAll(async () => Promise.all(targets.map((target) => target.dispose())));

describe.each(targets)("library safety on $name", (target) => {
  let serial = 0;
  const setUp = async (count: number) => {
    const opened = await target.open();
    const folder = join(work, `${target.name}-${serial++}`);
    makeLibrary(folder, count);
    const catalog = await startCatalog(opened.db, [folder]);
    expect(await catalog.scan()).toMatchObject({ added: count, removed: 0 });
    const before = await catalog.ids();
    return {
      folder,
      catalog,
      before,
      close: async () => {
        await catalog.stop();
        await opened.close();
      },
    };
  };

  it("a missing folder, one replaced by a file, and one no one may read stop the scan and remove nothing", async () => {
    const { folder, catalog, before, close } = await setUp(12);
    const cases: Array<[string, () => void, () => void, RegExp]> = [
      [
        "missing",
        () => renameSync(folder, `${folder}.away`),
        () => renameSync(`${folder}.away`, folder),
        /does not exist/,
      ],
      [
        "a file",
        () => {
          renameSync(folder, `${folder}.away`);
          writeFileSync(folder, "not a folder");
        },
        () => {
          unlinkSync(folder);
          renameSync(`${folder}.away`, folder);
        },
        /is not a folder/,
      ],
      [
        "unreadable",
        () => chmodSync(folder, 0o000),
        () => chmodSync(folder, 0o755),
        // As root the folder is still readable, so the check reads its mode; as a user the read itself fails.
        /cannot be read/,
      ],
    ];
    for (const [, breakIt, repair, reason] of cases) {
      breakIt();
      try {
        expect(await catalog.scan()).toBeUndefined();
        const problem = catalog.service.status().problem;
        expect(problem).toMatchObject({ code: "LIBRARY_UNAVAILABLE", folder, canConfirm: false });
        expect(problem!.message).toMatch(reason);
        expect(await catalog.ids()).toEqual(before);
      } finally {
        repair();
      }
    }
    // Back in place: the next scan runs, changes nothing, and clears the problem.
    expect(await catalog.scan()).toMatchObject({ added: 0, removed: 0, unchanged: 12 });
    expect(catalog.service.status().problem).toBeNull();
    expect(await catalog.ids()).toEqual(before);
    await close();
  });

  it("an emptied folder (an unmounted disk's mount point) removes nothing unless confirmed", async () => {
    const { folder, catalog, before, close } = await setUp(4);
    renameSync(join(folder, "Album"), join(work, `${target.name}-moved-away`));
    expect(await catalog.scan()).toBeUndefined();
    expect(catalog.service.status().problem).toMatchObject({
      code: "LIBRARY_UNAVAILABLE",
      wouldRemove: 4,
      canConfirm: true,
    });
    expect(catalog.service.status().problem!.message).toMatch(/is empty but the catalog has 4 tracks/);
    expect(await catalog.ids()).toEqual(before);
    // Confirmed: the tracks go, as tombstones, and come back with their ids when the files do.
    expect(await catalog.scan(true)).toMatchObject({ removed: 4 });
    expect(await catalog.store.tombstoneCount()).toBe(4);
    renameSync(join(work, `${target.name}-moved-away`), join(folder, "Album"));
    expect(await catalog.scan()).toMatchObject({ added: 4, removed: 0 });
    expect(await catalog.ids()).toEqual(before);
    expect(await catalog.store.tombstoneCount()).toBe(0);
    await close();
  });

  it("a scan removing more than a quarter of a folder's tracks (and at least 10) waits for a confirmation", async () => {
    const { folder, catalog, before, close } = await setUp(40);
    const names = [...before.keys()].sort();
    for (const name of names.slice(0, 11)) unlinkSync(join(folder, "Album", name));
    expect(await catalog.scan()).toBeUndefined();
    expect(catalog.service.status().problem).toMatchObject({
      code: "MASS_REMOVAL_REFUSED",
      folder,
      wouldRemove: 11,
      canConfirm: true,
    });
    expect(catalog.service.status().problem!.message).toMatch(/would remove 11 of the 40 tracks/);
    expect(await catalog.ids()).toEqual(before);
    const removed = await catalog.scan(true);
    expect(removed).toMatchObject({ removed: 11, unchanged: 29 });
    // Search hears which ids went, so it can forget them at once.
    await expect
      .poll(() => catalog.changes.at(-1)?.removedTrackIds?.slice().sort())
      .toEqual(
        names
          .slice(0, 11)
          .map((name) => before.get(name)!)
          .sort(),
      );
    // Ten of the 29 left is over a quarter; nine is under ten tracks: a few may go without asking.
    for (const name of names.slice(11, 20)) unlinkSync(join(folder, "Album", name));
    expect(await catalog.scan()).toMatchObject({ removed: 9 });
    await close();
  });

  it("a file moved and renamed while its track was removed gets its old id back", async () => {
    const { folder, catalog, before, close } = await setUp(12);
    const parked = join(work, `${target.name}-parked.wav`);
    renameSync(join(folder, "Album", "003.wav"), parked);
    expect(await catalog.scan()).toMatchObject({ removed: 1 });
    expect((await catalog.ids()).has("003.wav")).toBe(false);
    mkdirSync(join(folder, "Elsewhere"), { recursive: true });
    renameSync(parked, join(folder, "Elsewhere", "renamed.wav"));
    expect(await catalog.scan()).toMatchObject({ added: 1, removed: 0 });
    expect((await catalog.ids()).get("renamed.wav")).toBe(before.get("003.wav"));
    // Moved and renamed within one scan keeps its id too.
    renameSync(join(folder, "Album", "004.wav"), join(folder, "Elsewhere", "again.wav"));
    expect(await catalog.scan()).toMatchObject({ updated: 1, removed: 0 });
    expect((await catalog.ids()).get("again.wav")).toBe(before.get("004.wav"));
    await close();
  });

  it("a tombstone lasts 30 days: a file back after that is a new track", async () => {
    const opened = await target.open();
    const folder = join(work, `${target.name}-late`);
    makeLibrary(folder, 3);
    let now = Date.now();
    const catalog = await startCatalog(opened.db, [folder], () => now);
    await catalog.scan();
    const before = await catalog.ids();
    renameSync(join(folder, "Album", "001.wav"), join(work, `${target.name}-late.wav`));
    await catalog.scan();
    now += TOMBSTONE_KEEP_MS + 60_000;
    renameSync(join(work, `${target.name}-late.wav`), join(folder, "Album", "001.wav"));
    expect(await catalog.scan()).toMatchObject({ added: 1 });
    expect((await catalog.ids()).get("001.wav")).not.toBe(before.get("001.wav"));
    expect(await catalog.store.tombstoneCount()).toBe(0);
    await catalog.stop();
    await opened.close();
  });
});
