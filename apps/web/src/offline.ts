// "Make available offline" for albums and playlists: pins their tracks in the client cache and remembers what
// they are, so the app can list and play them with no server at all. A pinned collection's contents may change
// (a playlist edited elsewhere): update() pins what was added and unpins what nothing pinned holds any more.
import { isPinned, pinTrack, unpinTrack, type PinDeps } from "@soundmesh/engine";
import type { TrackRecord } from "@soundmesh/protocol";

const KEY = "soundmesh.offline";

export interface OfflineCollection {
  /** "album:<id>" or "playlist:<id>". */
  id: string;
  title: string;
  subtitle: string;
  albumId: string | undefined;
  tracks: TrackRecord[];
}

/** The tracks of `before` that no collection of `after` holds: they are unpinned (left to the LRU, not deleted). */
export function tracksLetGo(
  before: readonly OfflineCollection[],
  after: readonly OfflineCollection[],
): string[] {
  const held = new Set(after.flatMap((c) => c.tracks.map((t) => t.id)));
  return [...new Set(before.flatMap((c) => c.tracks.map((t) => t.id)))].filter((id) => !held.has(id));
}

const idsOf = (collection: OfflineCollection) => collection.tracks.map((t) => t.id).join(",");

export class OfflineLibrary {
  /** Collections being downloaded: id → pieces progress (0–1). */
  readonly downloading = new Map<string, number>();
  /** Why a collection's last download or update stopped, shown until the next one starts. */
  readonly problems = new Map<string, string>();
  private readonly controllers = new Map<string, AbortController>();
  private readonly listeners = new Set<() => void>();
  private versionNumber = 0;

  constructor(
    private readonly deps: PinDeps,
    private readonly profile: string,
    private readonly changed: () => void,
  ) {}

  /** Changes whenever the list, a download or a problem changes (for useSyncExternalStore). */
  get version(): number {
    return this.versionNumber;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    this.versionNumber += 1;
    for (const listener of this.listeners) listener();
    this.changed();
  }

  list(): OfflineCollection[] {
    try {
      return JSON.parse(localStorage.getItem(KEY) ?? "[]") as OfflineCollection[];
    } catch {
      return [];
    }
  }

  private save(list: OfflineCollection[]): void {
    localStorage.setItem(KEY, JSON.stringify(list));
    this.notify();
  }

  has(id: string): boolean {
    return this.list().some((c) => c.id === id);
  }

  /** True when every track of the collection is pinned in the cache (its download finished). */
  isComplete(id: string): boolean {
    const collection = this.list().find((c) => c.id === id);
    return (
      !!collection &&
      !this.downloading.has(id) &&
      collection.tracks.every((t) => isPinned(this.deps.cacheIndex, t.id, this.profile))
    );
  }

  setProblem(id: string, problem: string): void {
    this.problems.set(id, problem);
    this.notify();
  }

  /** Remembers the collection and downloads it; a failure is kept in `problems` (pinning again retries). */
  async pin(collection: OfflineCollection): Promise<void> {
    this.save([...this.list().filter((c) => c.id !== collection.id), collection]);
    await this.download(collection);
  }

  /**
   * A pinned collection's new contents: tracks no pinned collection holds any more are unpinned now, and the
   * download starts again in the background (it replaces one running), so added tracks get pinned.
   */
  async update(collection: OfflineCollection): Promise<void> {
    const list = this.list();
    const previous = list.find((c) => c.id === collection.id);
    if (!previous) return;
    const next = list.map((c) => (c.id === collection.id ? collection : c));
    const isSameTracks = idsOf(previous) === idsOf(collection);
    if (!isSameTracks) this.controllers.get(collection.id)?.abort(new Error("superseded by a newer version"));
    this.save(next);
    if (isSameTracks) return;
    for (const trackId of tracksLetGo(list, next)) await unpinTrack(this.deps, trackId, this.profile);
    void this.download(collection);
  }

  /** Unpins the collection's tracks unless another offline collection still holds them. */
  async unpin(id: string): Promise<void> {
    this.controllers.get(id)?.abort(new Error("unpinned"));
    const list = this.list();
    const rest = list.filter((c) => c.id !== id);
    for (const trackId of tracksLetGo(list, rest)) await unpinTrack(this.deps, trackId, this.profile);
    this.problems.delete(id);
    this.save(rest);
  }

  /** Pins every track (those already complete cost a read of the cache); never rejects. */
  private async download(collection: OfflineCollection): Promise<void> {
    const { id, tracks } = collection;
    this.controllers.get(id)?.abort(new Error("superseded by a newer download"));
    const controller = new AbortController();
    const isCurrent = () => this.controllers.get(id) === controller;
    this.controllers.set(id, controller);
    this.downloading.set(id, 0);
    this.problems.delete(id);
    this.notify();
    try {
      for (const [i, track] of tracks.entries()) {
        await pinTrack(this.deps, track.id, this.profile, controller.signal);
        if (!isCurrent()) return;
        this.downloading.set(id, (i + 1) / tracks.length);
        this.notify();
      }
    } catch (error) {
      // Aborted on purpose (unpinned, or replaced by a newer download): nothing went wrong.
      if (!controller.signal.aborted)
        this.problems.set(id, `Download stopped: ${(error as Error).message}. Press again to retry.`);
    } finally {
      if (isCurrent()) {
        this.downloading.delete(id);
        this.controllers.delete(id);
      }
      this.notify();
    }
  }
}
