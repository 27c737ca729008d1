// Library watching with one watch per folder: fs.watch on a directory reports changes to the files in it too, so
// 100,000 tracks in 10,000 album folders cost 10,000 inotify watches, not the 110,000 (and their objects) of watching
// every file. A folder that appears is walked and watched; one that goes away is forgotten with everything under it.
import { watch, type FSWatcher } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, sep } from "node:path";

export interface FolderWatcher {
  /** Folders being watched now. */
  readonly size: number;
  close(): void;
}

export interface FolderWatcherOptions {
  /** Called on every change under the roots (the caller debounces). */
  onChange: () => void;
  /** A folder that cannot be watched (the system's watch limit, permissions): the rest go on being watched. */
  onError: (error: unknown, folder: string) => void;
}

const isMissing = (error: unknown) =>
  error instanceof Error && "code" in error && (error.code === "ENOENT" || error.code === "ENOTDIR");

/** Watches every folder under `roots` (symbolic links are not followed); resolves once the initial walk is done. */
export async function watchFolders(
  roots: readonly string[],
  { onChange, onError }: FolderWatcherOptions,
): Promise<FolderWatcher> {
  const watchers = new Map<string, FSWatcher>();
  let closed = false;

  function forget(folder: string): void {
    for (const [path, watcher] of watchers)
      if (path === folder || path.startsWith(folder + sep)) {
        watcher.close();
        watchers.delete(path);
      }
  }

  /** What changed in `folder` under `name`: a new folder is walked, a vanished one forgotten. */
  async function entryChanged(folder: string, name: string): Promise<void> {
    const path = join(folder, name);
    try {
      await walk(path);
    } catch (error) {
      if (isMissing(error)) forget(path);
      else onError(error, path);
    }
  }

  function watchOne(folder: string): void {
    const watcher = watch(folder, { persistent: false }, (eventType, name) => {
      onChange();
      if (eventType === "rename" && name) void entryChanged(folder, name);
    });
    watcher.on("error", (error) => {
      forget(folder);
      if (!isMissing(error)) onError(error, folder);
    });
    watchers.set(folder, watcher);
  }

  /** Watches `folder` and the folders under it; one that cannot be read or watched does not stop its siblings. */
  async function walk(folder: string): Promise<void> {
    const entries = await readdir(folder, { withFileTypes: true });
    if (closed) return;
    if (!watchers.has(folder)) watchOne(folder);
    for (const entry of entries) {
      const child = join(folder, entry.name);
      if (!entry.isDirectory() || watchers.has(child)) continue;
      await walk(child).catch((error: unknown) => {
        if (!isMissing(error)) onError(error, child);
      });
    }
  }

  for (const root of roots)
    await walk(root).catch((error: unknown) => {
      if (!isMissing(error)) onError(error, root);
    });
  return {
    get size() {
      return watchers.size;
    },
    close() {
      closed = true;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
