// "Make available offline" for albums (and playlists): pins their tracks in the client cache and remembers what
// they are, so the app can list and play them with no server at all.
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

export class OfflineLibrary {
  /** Collections being downloaded: id → pieces progress (0–1). */
  readonly downloading = new Map<string, number>();
  private readonly controllers = new Map<string, AbortController>();

  constructor(
    private readonly deps: PinDeps,
    private readonly profile: string,
    private readonly changed: () => void,
  ) {}

  list(): OfflineCollection[] {
    try {
      return JSON.parse(localStorage.getItem(KEY) ?? "[]") as OfflineCollection[];
    } catch {
      return [];
    }
  }

  private save(list: OfflineCollection[]): void {
    localStorage.setItem(KEY, JSON.stringify(list));
    this.changed();
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

  async pin(collection: OfflineCollection): Promise<void> {
    this.save([...this.list().filter((c) => c.id !== collection.id), collection]);
    const controller = new AbortController();
    this.controllers.set(collection.id, controller);
    this.downloading.set(collection.id, 0);
    this.changed();
    try {
      for (const [i, track] of collection.tracks.entries()) {
        await pinTrack(this.deps, track.id, this.profile, controller.signal);
        this.downloading.set(collection.id, (i + 1) / collection.tracks.length);
        this.changed();
      }
    } finally {
      this.downloading.delete(collection.id);
      this.controllers.delete(collection.id);
      this.changed();
    }
  }

  /** Unpins the collection's tracks unless another offline collection still holds them. */
  async unpin(id: string): Promise<void> {
    this.controllers.get(id)?.abort(new Error("unpinned"));
    const list = this.list();
    const removed = list.find((c) => c.id === id);
    const rest = list.filter((c) => c.id !== id);
    const stillHeld = new Set(rest.flatMap((c) => c.tracks.map((t) => t.id)));
    for (const track of removed?.tracks ?? [])
      if (!stillHeld.has(track.id)) await unpinTrack(this.deps, track.id, this.profile);
    this.save(rest);
  }
}
