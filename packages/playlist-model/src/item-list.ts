// An ordered list of playlist items that applies operations by item id; remembers where removed items stood
// (their nearest surviving predecessor) so an operation anchored on a removed item still lands sensibly.
import type { PlaylistItem, PlaylistOperation } from "@soundmesh/protocol";

export interface PlaylistMeta {
  name: string;
  description: string;
  isPublic: boolean;
  isCollaborative: boolean;
}

/** An item id, null for the start of the list, or "end". */
type Anchor = string | null;

export class ItemList {
  private items: PlaylistItem[];
  private indexById: Map<string, number> | undefined;
  /** Removed item id → the live item it followed when removed (null: the start). */
  private readonly tombstones: Map<string, string | null>;

  constructor(items: readonly PlaylistItem[] = [], tombstones?: ReadonlyMap<string, string | null>) {
    this.items = [...items];
    this.tombstones = new Map(tombstones);
  }

  clone(): ItemList {
    return new ItemList(this.items, this.tombstones);
  }

  get length(): number {
    return this.items.length;
  }

  toArray(): readonly PlaylistItem[] {
    return this.items;
  }

  has(itemId: string): boolean {
    return this.index().has(itemId);
  }

  indexOf(itemId: string): number {
    return this.index().get(itemId) ?? -1;
  }

  /** Applies one operation; item fields not in the operation (who, when) come from `author` and `at`. */
  apply(operation: PlaylistOperation, author: string, at: number, meta?: PlaylistMeta): void {
    switch (operation.type) {
      case "insert":
        return this.insert(operation.afterItemId, operation.items, author, at);
      case "remove":
        return this.remove(operation.itemIds);
      case "move":
        return this.move(operation.itemIds, operation.afterItemId);
      case "rename":
        if (meta) meta.name = operation.name;
        return;
      case "setDescription":
        if (meta) meta.description = operation.description;
        return;
      case "setPublic":
        if (meta) meta.isPublic = operation.isPublic;
        return;
      case "setCollaborative":
        if (meta) meta.isCollaborative = operation.isCollaborative;
        return;
    }
  }

  private index(): Map<string, number> {
    if (!this.indexById) {
      this.indexById = new Map();
      this.items.forEach((item, i) => this.indexById!.set(item.itemId, i));
    }
    return this.indexById;
  }

  /** Where an anchor stands now: the index to insert at (0 = the start). Removed anchors follow their tombstone. */
  private insertionIndex(anchor: Anchor, excluded?: ReadonlySet<string>): number {
    if (anchor === "end") return this.items.length;
    let current: string | null = anchor;
    const seen = new Set<string>();
    while (current !== null && !this.has(current)) {
      if (seen.has(current) || !this.tombstones.has(current)) return this.items.length;
      seen.add(current);
      current = this.tombstones.get(current) ?? null;
    }
    if (current === null) return 0;
    let index = this.indexOf(current);
    // An anchor that is itself being moved: the moved block goes after its nearest unmoved predecessor.
    while (index >= 0 && excluded?.has(this.items[index]!.itemId)) index -= 1;
    return index + 1;
  }

  private insert(
    anchor: Anchor,
    items: ReadonlyArray<{ itemId: string; trackId: string }>,
    author: string,
    at: number,
  ) {
    const fresh = items.filter((item) => !this.has(item.itemId));
    if (fresh.length === 0) return;
    const index = this.insertionIndex(anchor);
    const added = fresh.map((item) => ({
      itemId: item.itemId,
      trackId: item.trackId,
      addedBy: author,
      addedAt: at,
    }));
    this.items.splice(index, 0, ...added);
    for (const item of added) this.tombstones.delete(item.itemId);
    this.indexById = undefined;
  }

  private remove(itemIds: readonly string[]) {
    const removing = new Set(itemIds.filter((id) => this.has(id)));
    if (removing.size === 0) return;
    let predecessor: string | null = null;
    const kept: PlaylistItem[] = [];
    for (const item of this.items) {
      if (removing.has(item.itemId)) {
        this.tombstones.set(item.itemId, predecessor);
      } else {
        kept.push(item);
        predecessor = item.itemId;
      }
    }
    this.items = kept;
    this.indexById = undefined;
  }

  private move(itemIds: readonly string[], anchor: Anchor) {
    const moving = itemIds.filter((id) => this.has(id));
    if (moving.length === 0) return;
    const movingSet = new Set(moving);
    if (anchor !== null && anchor !== "end" && movingSet.has(anchor)) return;
    const index = this.insertionIndex(anchor, movingSet);
    const before = this.items.slice(0, index).filter((item) => !movingSet.has(item.itemId));
    const after = this.items.slice(index).filter((item) => !movingSet.has(item.itemId));
    const block = moving.map((id) => this.items[this.indexOf(id)]!);
    this.items = [...before, ...block, ...after];
    this.indexById = undefined;
  }
}
