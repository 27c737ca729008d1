// The playlist order in memory: what a flush reports, applied to the rows as they were, gives the rows as they are;
// undoing back to a mark restores every position and tombstone exactly; neighbour queries agree with a plain scan.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlaylistOrder, type OrderChanges, type OrderEntry } from "../src/order";
import { spreadAround } from "../src/positions";

/** What a store holds after writing `changes` over `rows`. */
function applyChanges(rows: OrderEntry[], changes: OrderChanges): OrderEntry[] {
  const byId = new Map(rows.map((row) => [row.itemId, { ...row }]));
  for (const row of changes.inserted) {
    if (byId.has(row.itemId)) throw new Error(`inserted twice: ${row.itemId}`);
    byId.set(row.itemId, { itemId: row.itemId, position: row.position, removedRevision: null });
  }
  for (const { itemId, position } of changes.positions) byId.get(itemId)!.position = position;
  for (const { itemId, revision } of changes.removed) byId.get(itemId)!.removedRevision = revision;
  return [...byId.values()].sort((a, b) => a.position - b.position || (a.itemId < b.itemId ? -1 : 1));
}

const step = fc.record({
  kind: fc.constantFrom("insert", "insert", "move", "remove", "spread", "mark", "rollback", "flush"),
  pick: fc.nat(1_000),
  count: fc.integer({ min: 1, max: 30 }),
});

describe("PlaylistOrder", () => {
  it("flushes what changed and undoes back to a mark exactly, whatever the changes", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), (steps) => {
        const initial: OrderEntry[] = Array.from({ length: 40 }, (_, i) => ({
          itemId: `i${String(i).padStart(3, "0")}`,
          position: i + 1,
          removedRevision: i % 7 === 0 ? 1 : null,
        }));
        const order = new PlaylistOrder(
          initial.map((entry) => ({ ...entry })),
          1,
        );
        let stored = initial.map((entry) => ({ ...entry }));
        const marks: Array<{ mark: number; rows: OrderEntry[] }> = [];
        let revision = 1;
        let next = 0;
        for (const { kind, pick, count } of steps) {
          const list = order.rows().map((row) => row.itemId);
          const target = list[pick % list.length]!;
          if (kind === "insert") {
            const low = order.entry(target)!.position;
            const high = order.nextPosition(low, new Set());
            const positions = Array.from(
              { length: count },
              (_, i) => low + ((high ?? low + 1) - low) * ((i + 1) / (count + 1)),
            );
            const items = positions.map((position) => {
              const itemId = `n${String(next++).padStart(4, "0")}`;
              return { itemId, trackId: "t", addedBy: "u", addedAt: 1, position };
            });
            order.insertItems(items);
          } else if (kind === "move") {
            const moved = list.filter((_, i) => (i + pick) % 5 === 0).slice(0, count);
            order.setPositions(moved.map((itemId, i) => ({ itemId, position: -1 - i - pick })));
          } else if (kind === "remove") {
            if (order.entry(target)!.isLive) order.markRemoved([target], (revision += 1));
          } else if (kind === "spread") {
            spreadAround(order, order.entry(target)!.position, count, new Set());
          } else if (kind === "mark") {
            marks.push({ mark: order.mark(), rows: order.rows() });
          } else if (kind === "rollback") {
            const back = marks.pop();
            if (back) {
              order.rollback(back.mark);
              expect(order.rows()).toEqual(back.rows);
            }
          } else {
            stored = applyChanges(stored, order.flush());
            expect(stored).toEqual(order.rows());
            // A flush is a new starting point: nothing before it can be undone.
            marks.length = 0;
          }
          // The list stays sorted, and neighbour queries agree with the entries.
          const positions = order.rows().map((row) => row.position);
          expect(positions.every((position, i) => i === 0 || position >= positions[i - 1]!)).toBe(true);
          expect(order.nextPosition(null, new Set())).toBe(positions[0] ?? null);
          expect(order.lastPosition(new Set())).toBe(positions.at(-1) ?? null);
        }
        stored = applyChanges(stored, order.flush());
        expect(stored).toEqual(order.rows());
      }),
      { numRuns: 300 },
    );
  });

  it("answers the live item at or before a position, skipping tombstones and excluded items", () => {
    const order = new PlaylistOrder(
      [
        { itemId: "a", position: 1, removedRevision: null },
        { itemId: "b", position: 2, removedRevision: 3 },
        { itemId: "c", position: 3, removedRevision: null },
        { itemId: "d", position: 4, removedRevision: null },
      ],
      3,
    );
    expect(order.lastLiveAtOrBefore(2, new Set())).toBe("a");
    expect(order.lastLiveAtOrBefore(4, new Set(["d"]))).toBe("c");
    expect(order.lastLiveAtOrBefore(null, new Set(["d", "c"]))).toBe("a");
    expect(order.lastLiveAtOrBefore(0.5, new Set())).toBeNull();
    expect(order.countBetween(1, 4, new Set(["c"]))).toBe(2);
    expect(order.entriesBetween(2, 5, new Set(["c"]))).toEqual([
      { itemId: "b", position: 2 },
      { itemId: "d", position: 4 },
    ]);
  });
});
