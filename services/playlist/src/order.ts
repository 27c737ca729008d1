// A playlist's order in memory — every item, tombstones included, sorted by (position, item id) — so a batch of
// operations resolves anchors, neighbours and gap spreading without a statement each, and writes only what changed,
// once, when the batch ends. Changes can be undone back to a mark (an edit of a group that fails leaves the others).
import type { PlaylistItem } from "@soundmesh/protocol";
import type { StoredEntry } from "./store";

/** One item's place in the list, as stored. */
export interface OrderEntry {
  itemId: string;
  position: number;
  removedRevision: number | null;
}

/** A new item's row, as written to the store. */
export type NewItemRow = PlaylistItem & { position: number };

/** What a batch changed, each item once with its final state. */
export interface OrderChanges {
  inserted: NewItemRow[];
  positions: Array<{ itemId: string; position: number }>;
  removed: Array<{ itemId: string; revision: number }>;
}

const compare = (a: OrderEntry, b: OrderEntry): number =>
  a.position - b.position || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0);

/** Moving more entries than this at once rebuilds the array in one pass instead of a splice per entry. */
const SPLICE_LIMIT = 16;
/** A stretch of at most this many entries is re-sorted in place whatever the number of moves. */
const STRETCH_LIMIT = 256;

export class PlaylistOrder {
  /** The playlist revision this order is the state of (checked under the playlist's lock before use). */
  revision: number;
  private readonly list: OrderEntry[];
  private readonly byId = new Map<string, OrderEntry>();
  /** Item data of the rows inserted since the last flush. */
  private readonly added = new Map<string, NewItemRow>();
  /** The stored state of every item changed since the last flush (null: not stored yet). */
  private readonly touched = new Map<string, Omit<OrderEntry, "itemId"> | null>();
  private readonly journal: Array<() => void> = [];

  constructor(entries: OrderEntry[], revision: number) {
    // Already in position order when read from the store; the sort settles ties the way the list reads them.
    this.list = entries.sort(compare);
    for (const entry of this.list) this.byId.set(entry.itemId, entry);
    this.revision = revision;
  }

  get size(): number {
    return this.list.length;
  }

  entry(itemId: string): StoredEntry | undefined {
    const entry = this.byId.get(itemId);
    return entry && { itemId, position: entry.position, isLive: entry.removedRevision === null };
  }

  /** Every item, tombstones included, in list order (copies). */
  rows(): OrderEntry[] {
    return this.list.map((entry) => ({ ...entry }));
  }

  /** The first index whose position is at least (or, with `strict`, above) `position`. */
  private indexOf(position: number, strict: boolean): number {
    let low = 0;
    let high = this.list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const at = this.list[middle]!.position;
      if (at < position || (strict && at === position)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The first position after `after` (null: the very first), tombstones included, skipping `excluded`. */
  nextPosition(after: number | null, excluded: ReadonlySet<string>): number | null {
    for (let i = after === null ? 0 : this.indexOf(after, true); i < this.list.length; i += 1)
      if (!excluded.has(this.list[i]!.itemId)) return this.list[i]!.position;
    return null;
  }

  /** The last position, tombstones included, skipping `excluded`. */
  lastPosition(excluded: ReadonlySet<string>): number | null {
    for (let i = this.list.length - 1; i >= 0; i -= 1)
      if (!excluded.has(this.list[i]!.itemId)) return this.list[i]!.position;
    return null;
  }

  /** The live item at or before `position` (null: anywhere) that is not excluded, nearest first. */
  lastLiveAtOrBefore(position: number | null, excluded: ReadonlySet<string>): string | null {
    const start = position === null ? this.list.length : this.indexOf(position, true);
    for (let i = start - 1; i >= 0; i -= 1) {
      const entry = this.list[i]!;
      if (entry.removedRevision === null && !excluded.has(entry.itemId)) return entry.itemId;
    }
    return null;
  }

  /** How many items (tombstones included, `excluded` not) stand at positions in [from, to). */
  countBetween(from: number, to: number, excluded: ReadonlySet<string>): number {
    const low = this.indexOf(from, false);
    const high = this.indexOf(to, false);
    let count = high - low;
    for (const itemId of excluded) {
      const entry = this.byId.get(itemId);
      if (entry && entry.position >= from && entry.position < to) count -= 1;
    }
    return count;
  }

  /** Those items, in list order. */
  entriesBetween(
    from: number,
    to: number,
    excluded: ReadonlySet<string>,
  ): Array<{ itemId: string; position: number }> {
    const found: Array<{ itemId: string; position: number }> = [];
    for (let i = this.indexOf(from, false); i < this.list.length && this.list[i]!.position < to; i += 1) {
      const { itemId, position } = this.list[i]!;
      if (!excluded.has(itemId)) found.push({ itemId, position });
    }
    return found;
  }

  private touch(itemId: string, entry: OrderEntry | undefined): void {
    if (this.touched.has(itemId)) return;
    this.touched.set(
      itemId,
      entry ? { position: entry.position, removedRevision: entry.removedRevision } : null,
    );
  }

  /** Gives entries new positions and puts them back in order. */
  private reposition(moves: ReadonlyArray<{ entry: OrderEntry; to: number }>): void {
    // Only the stretch from the lowest to the highest position involved (old or new) can change order: everything
    // before it stays before, everything after stays after. A spread neighbourhood re-sorts just its own rows.
    let lowest = Infinity;
    let highest = -Infinity;
    for (const { entry, to } of moves) {
      lowest = Math.min(lowest, entry.position, to);
      highest = Math.max(highest, entry.position, to);
    }
    const start = this.indexOf(lowest, false);
    const end = this.indexOf(highest, true);
    // A few entries moved far (a move across the list): a splice each costs less than re-sorting the stretch. A
    // stretch not much longer than the moves (a spread gap, its neighbours) is cheaper to settle in place: two
    // splices of a long list per entry made a 500-insert edit spend most of its time moving array slots.
    if (moves.length <= SPLICE_LIMIT && end - start > STRETCH_LIMIT) {
      for (const { entry } of moves) this.list.splice(this.findIndex(entry), 1);
      for (const move of moves) move.entry.position = move.to;
      for (const { entry } of moves) this.list.splice(this.insertionIndex(entry), 0, entry);
      return;
    }
    for (const move of moves) move.entry.position = move.to;
    // A spread keeps its rows in the same order: then there is nothing to sort.
    let isSorted = true;
    for (let i = start + 1; i < end && isSorted; i += 1)
      isSorted = compare(this.list[i - 1]!, this.list[i]!) < 0;
    if (isSorted) return;
    const stretch = this.list.slice(start, end).sort(compare);
    for (let i = 0; i < stretch.length; i += 1) this.list[start + i] = stretch[i]!;
  }

  private insertionIndex(entry: OrderEntry): number {
    let low = 0;
    let high = this.list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compare(this.list[middle]!, entry) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private findIndex(entry: OrderEntry): number {
    const index = this.insertionIndex(entry);
    if (this.list[index] !== entry) throw new Error(`playlist order lost item ${entry.itemId}`);
    return index;
  }

  insertItems(rows: readonly NewItemRow[]): void {
    const entries = rows.map((row): OrderEntry => {
      this.touch(row.itemId, undefined);
      this.added.set(row.itemId, row);
      const entry = { itemId: row.itemId, position: row.position, removedRevision: null };
      this.byId.set(row.itemId, entry);
      return entry;
    });
    if (entries.length <= SPLICE_LIMIT)
      for (const entry of entries) this.list.splice(this.insertionIndex(entry), 0, entry);
    else this.mergeIn(entries);
    this.journal.push(() => {
      const gone = new Set(entries);
      const kept = this.list.filter((entry) => !gone.has(entry));
      this.list.splice(0, this.list.length, ...kept);
      for (const entry of entries) {
        this.byId.delete(entry.itemId);
        this.added.delete(entry.itemId);
      }
    });
  }

  private mergeIn(entries: OrderEntry[]): void {
    const staying = this.list.splice(0, this.list.length);
    const sorted = entries.sort(compare);
    let i = 0;
    for (const entry of sorted) {
      while (i < staying.length && compare(staying[i]!, entry) < 0) this.list.push(staying[i++]!);
      this.list.push(entry);
    }
    while (i < staying.length) this.list.push(staying[i++]!);
  }

  setPositions(positions: ReadonlyArray<{ itemId: string; position: number }>): void {
    const changed = positions.flatMap(({ itemId, position }) => {
      const entry = this.byId.get(itemId);
      if (!entry) throw new Error(`playlist order has no item ${itemId}`);
      return entry.position === position ? [] : [{ entry, position, old: entry.position }];
    });
    if (changed.length === 0) return;
    for (const { entry } of changed) this.touch(entry.itemId, entry);
    this.reposition(changed.map(({ entry, position }) => ({ entry, to: position })));
    this.journal.push(() => this.reposition(changed.map(({ entry, old }) => ({ entry, to: old }))));
  }

  markRemoved(itemIds: readonly string[], revision: number): void {
    const entries = itemIds.map((itemId) => this.byId.get(itemId)!);
    for (const entry of entries) {
      this.touch(entry.itemId, entry);
      entry.removedRevision = revision;
    }
    this.journal.push(() => {
      for (const entry of entries) entry.removedRevision = null;
    });
  }

  /** Spreads every position out again (1, 2, 3 …), same order: the last resort. */
  renumber(): void {
    this.setPositions(this.list.map((entry, i) => ({ itemId: entry.itemId, position: i + 1 })));
  }

  /** A point to undo back to. */
  mark(): number {
    return this.journal.length;
  }

  /** Undoes every change made since `mark`. */
  rollback(mark: number): void {
    while (this.journal.length > mark) this.journal.pop()!();
  }

  /** What changed since the last flush, each item once; the order then stands as stored. */
  flush(): OrderChanges {
    const changes: OrderChanges = { inserted: [], positions: [], removed: [] };
    for (const [itemId, before] of this.touched) {
      const entry = this.byId.get(itemId);
      if (!entry) continue;
      if (before === null) {
        changes.inserted.push({ ...this.added.get(itemId)!, position: entry.position });
        if (entry.removedRevision !== null) changes.removed.push({ itemId, revision: entry.removedRevision });
        continue;
      }
      if (entry.position !== before.position) changes.positions.push({ itemId, position: entry.position });
      if (entry.removedRevision !== before.removedRevision && entry.removedRevision !== null)
        changes.removed.push({ itemId, revision: entry.removedRevision });
    }
    this.touched.clear();
    this.added.clear();
    this.journal.length = 0;
    return changes;
  }
}
