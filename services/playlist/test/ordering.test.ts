// Positions under pressure, on SQLite and PostgreSQL: inserts and moves aimed again and again at one gap rewrite a
// bounded number of rows (a small neighbourhood is spread out, never the whole list) and keep the order exact.
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_ITEMS_PER_OPERATION, type PlaylistOperation } from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, testId, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

describe.each(targets)("playlist ordering on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  /** A playlist of `size` items (5,000 per operation), and its item ids in order. */
  async function bigPlaylist(size: number): Promise<{ id: string; revision: number; itemIds: string[] }> {
    const created = await h.call("create", { name: "Big", isCollaborative: true });
    const itemIds = Array.from({ length: size }, (_, i) => `item${String(i).padStart(8, "0")}`);
    let revision = created.playlist.revision;
    for (let i = 0; i < size; i += MAX_ITEMS_PER_OPERATION) {
      const items = itemIds
        .slice(i, i + MAX_ITEMS_PER_OPERATION)
        .map((itemId) => ({ itemId, trackId: "t-okc1" }));
      const operation: PlaylistOperation = { type: "insert", afterItemId: "end", items };
      ({ revision } = await h.call("edit", {
        playlistId: created.playlist.id,
        baseRevision: revision,
        operations: [{ opId: testId("op"), operation }],
      }));
    }
    return { id: created.playlist.id, revision, itemIds };
  }

  const itemIdsOf = async (playlistId: string) =>
    (await h.call("get", { playlistId })).items.map((item) => item.itemId);

  it("500 inserts at one anchor, filling a playlist to 20,000 items, rewrite fewer rows than one renumbering", async () => {
    const playlist = await bigPlaylist(19_500);
    const anchor = playlist.itemIds[9_750]!;
    const inserted: string[] = [];
    let revision = playlist.revision;
    let mostInOneEdit = 0;
    const before = h.rowsWritten();
    for (let i = 0; i < 500; i += 1) {
      const itemId = testId("new");
      inserted.push(itemId);
      const start = h.rowsWritten();
      ({ revision } = await h.call("edit", {
        playlistId: playlist.id,
        baseRevision: revision,
        operations: [
          {
            opId: testId("op"),
            operation: { type: "insert", afterItemId: anchor, items: [{ itemId, trackId: "t-blue1" }] },
          },
        ],
      }));
      mostInOneEdit = Math.max(mostInOneEdit, h.rowsWritten() - start);
    }
    const written = h.rowsWritten() - before;
    // Renumbering the list once rewrites 20,000 rows; the old way did so about every 20 inserts here.
    expect(written).toBeLessThan(20_000);
    expect(mostInOneEdit).toBeLessThan(1_000);
    // Each insert lands right after the anchor, so the newest comes first.
    expect(await itemIdsOf(playlist.id)).toEqual([
      ...playlist.itemIds.slice(0, 9_751),
      ...inserted.reverse(),
      ...playlist.itemIds.slice(9_751),
    ]);
  });

  it("one edit of 500 inserts at one anchor costs a few statements and rows per insert, and keeps the order", async () => {
    const playlist = await bigPlaylist(19_500);
    const anchor = playlist.itemIds[9_750]!;
    const inserted = Array.from({ length: 500 }, () => testId("new"));
    const rows = h.rowsWritten();
    const statements = h.statements();
    await h.call("edit", {
      playlistId: playlist.id,
      baseRevision: playlist.revision,
      operations: inserted.map((itemId) => ({
        opId: testId("op"),
        operation: { type: "insert", afterItemId: anchor, items: [{ itemId, trackId: "t-blue1" }] },
      })),
    });
    const perInsert = {
      rows: (h.rowsWritten() - rows) / inserted.length,
      statements: (h.statements() - statements) / inserted.length,
    };
    // Renumbering rewrote 20,000 rows about every 20 inserts. Each insert now reads its anchor and its neighbour,
    // writes its row, and now and then spreads a small neighbourhood: about 7.7 rows (its revision included) and 5
    // statements, as the revisions go in a few statements at the end rather than one per operation (6 before).
    expect(perInsert.rows).toBeLessThan(15);
    expect(perInsert.statements).toBeLessThan(5.5);
    expect(await itemIdsOf(playlist.id)).toEqual([
      ...playlist.itemIds.slice(0, 9_751),
      ...inserted.reverse(),
      ...playlist.itemIds.slice(9_751),
    ]);
  });

  it("thousands of inserts and moves right after the same item stay bounded and in order", async () => {
    const playlist = await bigPlaylist(1_000);
    const anchor = playlist.itemIds[500]!;
    const expected = [...playlist.itemIds];
    const operations: PlaylistOperation[] = [];
    for (let i = 0; i < 2_000; i += 1) {
      if (i % 2 === 0) {
        const itemId = testId("new");
        operations.push({ type: "insert", afterItemId: anchor, items: [{ itemId, trackId: "t-blue2" }] });
        expected.splice(expected.indexOf(anchor) + 1, 0, itemId);
      } else {
        // The last item, moved right after the anchor: the same gap narrowed from the other side.
        const moved = expected.pop()!;
        operations.push({ type: "move", itemIds: [moved], afterItemId: anchor });
        expected.splice(expected.indexOf(anchor) + 1, 0, moved);
      }
    }
    let revision = playlist.revision;
    const before = h.rowsWritten();
    for (let i = 0; i < operations.length; i += 500) {
      ({ revision } = await h.call("edit", {
        playlistId: playlist.id,
        baseRevision: revision,
        operations: operations.slice(i, i + 500).map((operation) => ({ opId: testId("op"), operation })),
      }));
    }
    const written = h.rowsWritten() - before;
    // One row per operation for the item, one for the revision; the spreading stays a small multiple on top.
    expect(written / operations.length).toBeLessThan(25);
    expect(await itemIdsOf(playlist.id)).toEqual(expected);
  });

  it("keeps the order exact whatever mix of inserts, moves and removes hammers a few gaps", async () => {
    const step = fc.record({
      kind: fc.constantFrom("insert", "insert", "insertMany", "move", "remove"),
      anchor: fc.nat(3),
      pick: fc.nat(10_000),
      count: fc.integer({ min: 1, max: 40 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 20, maxLength: 60 }), async (steps) => {
        const playlist = await bigPlaylist(8);
        const expected = [...playlist.itemIds];
        const operations: PlaylistOperation[] = [];
        for (const { kind, anchor, pick, count } of steps) {
          // Anchors are a few fixed items, so the same gaps fill up and get spread again and again.
          const anchorId = playlist.itemIds[anchor * 2]!;
          const others = expected.filter((itemId) => !playlist.itemIds.includes(itemId));
          if (kind === "insert" || kind === "insertMany" || others.length === 0) {
            const items = Array.from({ length: kind === "insertMany" ? count : 1 }, () => ({
              itemId: testId("p"),
              trackId: "t-love1",
            }));
            operations.push({ type: "insert", afterItemId: anchorId, items });
            expected.splice(expected.indexOf(anchorId) + 1, 0, ...items.map((item) => item.itemId));
          } else if (kind === "move") {
            const moved = others.filter((_, i) => (i + pick) % 3 === 0).slice(0, count);
            if (moved.length === 0) continue;
            operations.push({ type: "move", itemIds: moved, afterItemId: anchorId });
            const rest = expected.filter((itemId) => !moved.includes(itemId));
            rest.splice(rest.indexOf(anchorId) + 1, 0, ...moved);
            expected.splice(0, expected.length, ...rest);
          } else {
            const removed = others[pick % others.length]!;
            operations.push({ type: "remove", itemIds: [removed] });
            expected.splice(expected.indexOf(removed), 1);
          }
        }
        await h.call("edit", {
          playlistId: playlist.id,
          baseRevision: playlist.revision,
          operations: operations.map((operation) => ({ opId: testId("op"), operation })),
        });
        expect(await itemIdsOf(playlist.id)).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });
});
