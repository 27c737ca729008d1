// Library watching with one watch per folder: changes to files in any folder are seen, new folders are watched as they
// appear, vanished ones are forgotten, and a missing root is not an error.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { watchFolders, type FolderWatcher } from "../src/folder-watcher";

const work = mkdtempSync(join(tmpdir(), "soundmesh-folder-watcher-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A watcher over a fresh tree whose changes count up, and a wait for the count (or a condition) to be reached. */
async function watched(name: string, folders: string[]) {
  const root = join(work, name);
  for (const folder of folders) mkdirSync(join(root, folder), { recursive: true });
  let changes = 0;
  const errors: unknown[] = [];
  const watcher: FolderWatcher = await watchFolders([root], {
    onChange: () => (changes += 1),
    onError: (error) => errors.push(error),
  });
  const until = async (condition: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { root, watcher, errors, changes: () => changes, until };
}

describe("watchFolders", () => {
  it("watches each folder once, not each file, and sees a file written deep in the tree", async () => {
    const tree = await watched("deep", ["A/Album 1", "A/Album 2", "B/Album 3"]);
    for (const album of ["A/Album 1", "A/Album 2", "B/Album 3"])
      for (let n = 1; n <= 5; n++) writeFileSync(join(tree.root, album, `${n}.mp3`), "x");
    // root, A, B and three albums: six watches whatever the number of files.
    expect(tree.watcher.size).toBe(6);
    const before = tree.changes();
    writeFileSync(join(tree.root, "B/Album 3/1.mp3"), "changed");
    await tree.until(() => tree.changes() > before, "the change of a file in a watched folder");
    expect(tree.errors).toEqual([]);
    tree.watcher.close();
    expect(tree.watcher.size).toBe(0);
  });

  it("watches a folder that appears after the start, and forgets one that goes away", async () => {
    const tree = await watched("appearing", ["Old"]);
    expect(tree.watcher.size).toBe(2);
    mkdirSync(join(tree.root, "New/Album/Disc 1"), { recursive: true });
    await tree.until(() => tree.watcher.size === 5, "the new folders to be watched");
    const before = tree.changes();
    writeFileSync(join(tree.root, "New/Album/Disc 1/1.mp3"), "x");
    await tree.until(() => tree.changes() > before, "a file in a folder made after the start");
    rmSync(join(tree.root, "New"), { recursive: true });
    await tree.until(() => tree.watcher.size === 2, "the removed folders to be forgotten");
    expect(tree.errors).toEqual([]);
    tree.watcher.close();
  });

  it("takes a root that does not exist as an empty library, not an error", async () => {
    const errors: unknown[] = [];
    const watcher = await watchFolders([join(work, "missing")], {
      onChange: () => undefined,
      onError: (error) => errors.push(error),
    });
    expect(watcher.size).toBe(0);
    expect(errors).toEqual([]);
    watcher.close();
  });
});
