// Positions under pressure, on SQLite and PostgreSQL: inserts and moves aimed again and again at one gap rewrite a
// bounded number of rows (a small neighbourhood is spread out, never the whole list) and keep the order exact.
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Kysely } from "@soundmesh/db";
import { MAX_ITEMS_PER_OPERATION, type AppError, type PlaylistOperation } from "@soundmesh/protocol";
import type { PlaylistTables } from "../src/sql-tables";
import type { PlaylistStore } from "../src/store";
import { dbTargets } from "@soundmesh/test-kit";
import { createEditCommitter } from "../src/commit-edits";
import { preparePlaylistDb, startHarness, testId, userOf, type Harness } from "./harness";

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
  }, 120_000); // 500 edits in turn on a 20,000-item playlist: minutes on a loaded 2-core machine

  it("one edit of 500 inserts at one anchor costs a few statements in all and a few rows per insert, and keeps the order", async () => {
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
    const written = h.rowsWritten() - rows;
    // The operations apply to the order in memory; what changed goes out at the end, 100 rows an insert and 200 an
    // update (each statement a turn of the event loop of its own): the 500 rows, their 500 revisions, the positions a
    // spread changed (each row once however often it moved) and the playlist row, after the 500 operation ids looked
    // up 100 at a time. One operation at a time this took about 5 statements per insert, 2,500 in all.
    expect(h.statements() - statements).toBeLessThan(25);
    expect(written / inserted.length).toBeLessThan(5);
    expect(await itemIdsOf(playlist.id)).toEqual([
      ...playlist.itemIds.slice(0, 9_751),
      ...inserted.reverse(),
      ...playlist.itemIds.slice(9_751),
    ]);
  });

  /** Every row of the playlist, tombstones included, in list order. */
  const storedRows = (playlistId: string) =>
    (h.db.kysely as Kysely<PlaylistTables>)
      .selectFrom("playlist_items")
      .select(["item_id", "position", "removed_revision"])
      .where("playlist_id", "=", playlistId)
      .orderBy("position")
      .orderBy("item_id")
      .execute()
      .then((rows) =>
        rows.map((row) => ({
          itemId: row.item_id,
          position: Number(row.position),
          removedRevision: row.removed_revision === null ? null : Number(row.removed_revision),
        })),
      );

  it("one edit of 500 operations at one anchor stores exactly what the same operations one edit at a time store", async () => {
    const batch = await bigPlaylist(2_000);
    const single = await bigPlaylist(2_000);
    const anchor = batch.itemIds[1_000]!;
    const expected = [...batch.itemIds];
    const operations: PlaylistOperation[] = [];
    const added: string[] = [];
    for (let i = 0; i < 500; i += 1) {
      const roll = i % 10;
      if (roll < 6 || added.length < 3) {
        // One item or a few, right after the anchor: the gap fills and is spread again and again.
        const items = Array.from({ length: roll === 5 ? 3 : 1 }, () => ({
          itemId: testId("b"),
          trackId: "t-blue1",
        }));
        operations.push({ type: "insert", afterItemId: anchor, items });
        expected.splice(expected.indexOf(anchor) + 1, 0, ...items.map((item) => item.itemId));
        added.push(...items.map((item) => item.itemId));
      } else if (roll < 8) {
        // An item from far away, moved next to the anchor.
        const moved = expected.at(roll === 6 ? -1 : 0)!;
        operations.push({ type: "move", itemIds: [moved], afterItemId: anchor });
        expected.splice(expected.indexOf(moved), 1);
        expected.splice(expected.indexOf(anchor) + 1, 0, moved);
      } else {
        const removed = added.splice(i % added.length, 1)[0]!;
        operations.push({ type: "remove", itemIds: [removed] });
        expected.splice(expected.indexOf(removed), 1);
      }
    }
    const opIds = operations.map(() => testId("op"));
    await h.call("edit", {
      playlistId: batch.id,
      baseRevision: batch.revision,
      operations: operations.map((operation, i) => ({ opId: opIds[i]!, operation })),
    });
    let revision = single.revision;
    for (const [i, operation] of operations.entries())
      ({ revision } = await h.call("edit", {
        playlistId: single.id,
        baseRevision: revision,
        operations: [{ opId: opIds[i]!, operation }],
      }));
    expect(await itemIdsOf(batch.id)).toEqual(expected);
    const stored = await storedRows(batch.id);
    // The same positions and tombstones, row for row: the batch wrote each changed row once, with its final value.
    expect(stored).toEqual(await storedRows(single.id));
    expect(stored.every((row, i) => i === 0 || row.position > stored[i - 1]!.position)).toBe(true);
  });

  it("edits grouped in one transaction keep their spreads when one of them is refused after spreading", async () => {
    const playlist = await bigPlaylist(50);
    const anchor = playlist.itemIds[20]!;
    const inserts = (prefix: string) =>
      Array.from({ length: 25 }, (): PlaylistOperation => ({
        type: "insert",
        afterItemId: anchor,
        items: [{ itemId: testId(prefix), trackId: "t-okc1" }],
      }));
    const idsOf = (operations: PlaylistOperation[]) =>
      operations
        .flatMap((operation) => (operation.type === "insert" ? operation.items : []))
        .map((i) => i.itemId);
    // 25 inserts in a gap of 1 narrow it past its ~20 halvings: each edit spreads a neighbourhood on the way.
    const [first, refused, last] = [inserts("a"), inserts("r"), inserts("c")];
    const edit = (operations: PlaylistOperation[]) =>
      h.call("edit", {
        playlistId: playlist.id,
        baseRevision: playlist.revision,
        operations: operations.map((operation) => ({ opId: testId("op"), operation })),
      });
    const outcomes = await Promise.allSettled([
      edit(first),
      edit([...refused, { type: "remove", itemIds: ["neverexisted"] }]),
      edit(last),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(((outcomes[1] as PromiseRejectedResult).reason as AppError).code).toBe("BAD_OPERATION");
    const expected = [
      ...playlist.itemIds.slice(0, 21),
      ...idsOf(last).reverse(),
      ...idsOf(first).reverse(),
      ...playlist.itemIds.slice(21),
    ];
    expect(await itemIdsOf(playlist.id)).toEqual(expected);
    // Nothing of the refused edit was stored, not even a tombstone; the revisions run on without a gap.
    const stored = await storedRows(playlist.id);
    expect(stored.map((row) => row.itemId)).toEqual(expected);
    expect(stored.every((row, i) => i === 0 || row.position > stored[i - 1]!.position)).toBe(true);
    const changes = await h.call("changesSince", { playlistId: playlist.id, revision: playlist.revision });
    expect(changes.kind === "revisions" && changes.revisions.map((revision) => revision.revision)).toEqual(
      Array.from({ length: 50 }, (_, i) => playlist.revision + 1 + i),
    );
    // The next edit builds on the order the group left (kept in memory) and lands where it should.
    const next = testId("n");
    const { revision } = await h.call("edit", {
      playlistId: playlist.id,
      baseRevision: playlist.revision + 50,
      operations: [
        {
          opId: testId("op"),
          operation: {
            type: "insert",
            afterItemId: idsOf(first)[0]!,
            items: [{ itemId: next, trackId: "t-okc2" }],
          },
        },
        { opId: testId("op"), operation: { type: "move", itemIds: [idsOf(last)[0]!], afterItemId: null } },
      ],
    });
    expect(revision).toBe(playlist.revision + 52);
    const after = expected.filter((itemId) => itemId !== idsOf(last)[0]);
    after.splice(after.indexOf(idsOf(first)[0]!) + 1, 0, next);
    expect(await itemIdsOf(playlist.id)).toEqual([idsOf(last)[0], ...after]);
  });

  it("another replica's edits in between make the kept order stale: the next edit reads the stored one", async () => {
    const playlist = await bigPlaylist(10);
    const [a, b, c] = playlist.itemIds;
    const op = (operation: PlaylistOperation) => ({ opId: testId("op"), operation });
    // This service now keeps the playlist's order in memory, as of this revision.
    const first = testId("x");
    let { revision } = await h.call("edit", {
      playlistId: playlist.id,
      baseRevision: playlist.revision,
      operations: [op({ type: "insert", afterItemId: a!, items: [{ itemId: first, trackId: "t-okc1" }] })],
    });
    // A second replica of the service (cluster mode) on the same database edits the playlist.
    const other = createEditCommitter({ store: h.store, clock: h.clock, announce: () => Promise.resolve() });
    const elsewhere = testId("y");
    await other.submit(playlist.id, {
      editor: { userId: userOf("alice").id, isSystem: false },
      baseRevision: revision,
      operations: [
        op({ type: "insert", afterItemId: first, items: [{ itemId: elsewhere, trackId: "t-okc2" }] }),
        op({ type: "remove", itemIds: [b!] }),
        op({ type: "move", itemIds: [c!], afterItemId: null }),
      ],
    });
    // Anchored on the other replica's item, which this service's kept order has never seen.
    const last = testId("z");
    ({ revision } = await h.call("edit", {
      playlistId: playlist.id,
      baseRevision: revision,
      operations: [
        op({ type: "insert", afterItemId: elsewhere, items: [{ itemId: last, trackId: "t-blue1" }] }),
      ],
    }));
    expect(revision).toBe(playlist.revision + 5);
    expect(await itemIdsOf(playlist.id)).toEqual([
      c,
      a,
      first,
      elsewhere,
      last,
      ...playlist.itemIds.slice(3),
    ]);
  });

  it("keeps the order of the playlist just edited in memory, even alone over the limit, and lets older ones go", async () => {
    const [big, other] = [await bigPlaylist(20), await bigPlaylist(3)];
    const loads: string[] = [];
    const store: PlaylistStore = {
      ...h.store,
      editPlaylist: (id, work) =>
        h.store.editPlaylist(id, (tx) =>
          work({
            ...tx,
            loadOrder: () => {
              loads.push(id);
              return tx.loadOrder();
            },
          }),
        ),
    };
    const committer = createEditCommitter({
      store,
      clock: h.clock,
      announce: () => Promise.resolve(),
      maxCachedItems: 10,
    });
    const insertInto = (playlistId: string) =>
      committer.submit(playlistId, {
        editor: { userId: userOf("alice").id, isSystem: true },
        baseRevision: null,
        operations: [
          {
            opId: testId("op"),
            operation: {
              type: "insert",
              afterItemId: null,
              items: [{ itemId: testId("k"), trackId: "t-okc1" }],
            },
          },
        ],
      });
    for (let i = 0; i < 3; i += 1) await insertInto(big.id);
    // 20 items and more, over the limit of 10: still read once for three edits.
    expect(loads).toEqual([big.id]);
    await insertInto(other.id);
    await insertInto(other.id);
    await insertInto(big.id);
    // The small one pushed the big one out (23 + 4 > 10); the small one went when the big one came back.
    expect(loads).toEqual([big.id, other.id, big.id]);
    await insertInto(other.id);
    expect(loads).toEqual([big.id, other.id, big.id, other.id]);
    expect(await itemIdsOf(big.id)).toHaveLength(24);
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
