// Editing through the bus on SQLite and PostgreSQL: operations, rebasing stale ones, resubmission, catch-up, pushes.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_CATCH_UP_REVISIONS, type PlaylistOperation, type PlaylistSnapshot } from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, testId, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

const trackIdsOf = (snapshot: PlaylistSnapshot) => snapshot.items.map((item) => item.trackId);

describe.each(targets)("playlist editing on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  const edit = (playlistId: string, baseRevision: number, ...operations: PlaylistOperation[]) =>
    h.call("edit", {
      playlistId,
      baseRevision,
      operations: operations.map((operation) => ({ opId: testId("op"), operation })),
    });
  const insert = (afterItemId: string | null, ...trackIds: string[]): PlaylistOperation => ({
    type: "insert",
    afterItemId,
    items: trackIds.map((trackId) => ({ itemId: `i-${trackId}-${testId()}`, trackId })),
  });

  async function playlistWith(...trackIds: string[]) {
    const created = await h.call("create", { name: "Mix", trackIds, isCollaborative: true });
    return { id: created.playlist.id, items: created.items.map((item) => item.itemId), snapshot: created };
  }

  it("creates a playlist with its tracks as revision 1 and answers it to its owner", async () => {
    const created = await h.call("create", { name: "  Road trip ", trackIds: ["t-blue1", "t-okc1"] });
    expect(created.playlist).toMatchObject({
      name: "Road trip",
      ownerId: "u-alice",
      ownerName: "alice",
      isPublic: false,
      revision: 1,
      itemCount: 2,
      access: { role: "owner", canEdit: true, isFollowing: false },
    });
    expect(created.items).toEqual([
      expect.objectContaining({ trackId: "t-blue1", addedBy: "u-alice", addedAt: h.clock.now() }),
      expect.objectContaining({ trackId: "t-okc1", addedBy: "u-alice" }),
    ]);
    expect(await h.call("get", { playlistId: created.playlist.id })).toEqual(created);
    expect((await h.call("list", {})).map((p) => p.id)).toEqual([created.playlist.id]);
  });

  it("inserts, removes, moves and renames, one revision per operation", async () => {
    const p = await playlistWith("t-blue1", "t-blue2", "t-love1");
    const [a, b, c] = p.items as [string, string, string];
    const result = await edit(
      p.id,
      1,
      insert(a, "t-okc1"),
      { type: "remove", itemIds: [b] },
      { type: "move", itemIds: [c], afterItemId: null },
      { type: "rename", name: "Renamed" },
      { type: "setDescription", description: "late night" },
    );
    expect(result.revision).toBe(6);
    expect(result.applied.map((r) => r.revision)).toEqual([2, 3, 4, 5, 6]);
    const snapshot = await h.call("get", { playlistId: p.id });
    expect(trackIdsOf(snapshot)).toEqual(["t-love1", "t-blue1", "t-okc1"]);
    expect(snapshot.playlist).toMatchObject({
      name: "Renamed",
      description: "late night",
      itemCount: 3,
      revision: 6,
    });
  });

  it("keeps the same track twice apart by item id", async () => {
    const p = await playlistWith("t-okc1");
    await edit(p.id, 1, insert("end", "t-okc1"));
    const snapshot = await h.call("get", { playlistId: p.id });
    expect(trackIdsOf(snapshot)).toEqual(["t-okc1", "t-okc1"]);
    await edit(p.id, 2, { type: "remove", itemIds: [p.items[0]!] });
    expect((await h.call("get", { playlistId: p.id })).items.map((i) => i.itemId)).toEqual([
      snapshot.items[1]!.itemId,
    ]);
  });

  it("a stale insert after a concurrently moved item lands after that item where it now is", async () => {
    const p = await playlistWith("t-blue1", "t-blue2", "t-love1", "t-okc1");
    const [a, b, , d] = p.items as [string, string, string, string];
    await edit(p.id, 1, { type: "move", itemIds: [a, b], afterItemId: d });
    // Made against revision 1, where b still stood second.
    const stale = await edit(p.id, 1, insert(b, "t-okc2"));
    expect(stale.applied[0]!.operation).toMatchObject({ type: "insert", afterItemId: b });
    expect(trackIdsOf(await h.call("get", { playlistId: p.id }))).toEqual([
      "t-love1",
      "t-okc1",
      "t-blue1",
      "t-blue2",
      "t-okc2",
    ]);
  });

  it("a stale insert after a removed item lands after its nearest surviving predecessor, and says so", async () => {
    const p = await playlistWith("t-blue1", "t-blue2", "t-love1", "t-okc1");
    const [a, b, c] = p.items as [string, string, string, string];
    await edit(p.id, 1, { type: "remove", itemIds: [b, c] });
    const stale = await edit(p.id, 1, insert(c, "t-okc2"));
    expect(stale.applied[0]!.operation).toMatchObject({ afterItemId: a });
    expect(trackIdsOf(await h.call("get", { playlistId: p.id }))).toEqual(["t-blue1", "t-okc2", "t-okc1"]);
  });

  it("removing an item someone already removed is a no-op revision; a move of removed items moves nothing", async () => {
    const p = await playlistWith("t-blue1", "t-blue2");
    const [a, b] = p.items as [string, string];
    await edit(p.id, 1, { type: "remove", itemIds: [a] });
    const again = await edit(
      p.id,
      1,
      { type: "remove", itemIds: [a] },
      { type: "move", itemIds: [a], afterItemId: b },
    );
    expect(again.applied.map((r) => r.operation)).toEqual([
      { type: "remove", itemIds: [] },
      { type: "move", itemIds: [], afterItemId: null },
    ]);
    const snapshot = await h.call("get", { playlistId: p.id });
    expect(trackIdsOf(snapshot)).toEqual(["t-blue2"]);
    expect(snapshot.playlist.itemCount).toBe(1);
  });

  it("applies a resubmitted operation once and answers with its first revision", async () => {
    const p = await playlistWith();
    const operations = [{ opId: testId("op"), operation: insert(null, "t-okc1") }];
    const first = await h.call("edit", { playlistId: p.id, baseRevision: 0, operations });
    const second = await h.call("edit", {
      playlistId: p.id,
      baseRevision: 0,
      operations: [...operations, { opId: testId("op"), operation: insert("end", "t-okc2") }],
    });
    expect(second.applied[0]).toEqual(first.applied[0]);
    expect(second.revision).toBe(2);
    expect(trackIdsOf(await h.call("get", { playlistId: p.id }))).toEqual(["t-okc1", "t-okc2"]);
  });

  it("applies an operation id once, even given twice in one edit or in two concurrent edits", async () => {
    const p = await playlistWith();
    const opId = testId("op");
    const twice = await h.call("edit", {
      playlistId: p.id,
      baseRevision: 0,
      operations: [
        { opId, operation: insert(null, "t-okc1") },
        { opId, operation: { type: "rename", name: "Ignored" } },
      ],
    });
    expect(twice.applied).toEqual([twice.applied[0], twice.applied[0]]);
    const sameOp = { opId: testId("op"), operation: insert("end", "t-okc2") };
    const [first, second] = await Promise.all([
      h.call("edit", { playlistId: p.id, baseRevision: 1, operations: [sameOp] }),
      h.call("edit", { playlistId: p.id, baseRevision: 1, operations: [sameOp] }),
    ]);
    expect(second.applied).toEqual(first.applied);
    const snapshot = await h.call("get", { playlistId: p.id });
    expect(trackIdsOf(snapshot)).toEqual(["t-okc1", "t-okc2"]);
    expect(snapshot.playlist).toMatchObject({ revision: 2, name: "Mix" });
  });

  it("gives a client that was away the revisions it missed, or a snapshot when too far behind", async () => {
    const p = await playlistWith("t-blue1");
    await edit(p.id, 1, insert("end", "t-blue2"), { type: "rename", name: "Two" });
    const missed = await h.call("changesSince", { playlistId: p.id, revision: 1 });
    expect(missed).toMatchObject({ kind: "revisions", revision: 3 });
    expect(missed.kind === "revisions" && missed.revisions.map((r) => r.operation.type)).toEqual([
      "insert",
      "rename",
    ]);
    expect(await h.call("changesSince", { playlistId: p.id, revision: 3 })).toEqual({
      kind: "revisions",
      revision: 3,
      revisions: [],
    });
    const renames = Array.from({ length: MAX_CATCH_UP_REVISIONS }, (_, i): PlaylistOperation => ({
      type: "rename",
      name: `Name ${i}`,
    }));
    await edit(p.id, 3, ...renames);
    const far = await h.call("changesSince", { playlistId: p.id, revision: 1 });
    expect(far.kind).toBe("snapshot");
    expect(far.kind === "snapshot" && far.snapshot.playlist.revision).toBe(3 + MAX_CATCH_UP_REVISIONS);
  });

  it("publishes each batch's new revisions with the playlist's audience", async () => {
    const p = await playlistWith();
    await expect
      .poll(() => h.events)
      .toEqual([
        expect.objectContaining({
          playlistId: p.id,
          revisions: [],
          listsChanged: ["u-alice"],
          audience: ["u-alice"],
        }),
      ]);
    await edit(p.id, 0, insert(null, "t-okc1"), { type: "setPublic", isPublic: true });
    await expect.poll(() => h.events.length).toBe(2);
    expect(h.events[1]).toMatchObject({
      playlistId: p.id,
      revision: 2,
      membersChanged: false,
      deleted: false,
      audience: null,
      listsChanged: [],
    });
    expect(h.events[1]!.revisions.map((r) => r.revision)).toEqual([1, 2]);
  });

  it("runs concurrent editors one revision after another, losing none of their inserts", async () => {
    const p = await playlistWith();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => edit(p.id, 0, insert(i % 2 === 0 ? null : "end", "t-blue1"))),
    );
    expect(results.map((r) => r.applied[0]!.revision).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    const snapshot = await h.call("get", { playlistId: p.id });
    expect(snapshot.items).toHaveLength(12);
    expect(snapshot.playlist.revision).toBe(12);
  });

  it("refuses one bad edit among concurrent ones and applies the others", async () => {
    const p = await playlistWith("t-blue1");
    const outcomes = await Promise.allSettled([
      edit(p.id, 1, insert("end", "t-okc1")),
      edit(p.id, 1, { type: "remove", itemIds: ["neverexisted"] }),
      edit(p.id, 1, insert("end", "t-okc2"), { type: "rename", name: "Both" }),
      h.call(
        "edit",
        {
          playlistId: p.id,
          baseRevision: 1,
          operations: [{ opId: testId("op"), operation: insert(null, "t-love1") }],
        },
        "bob",
      ),
    ]);
    expect(
      outcomes.map((o) => (o.status === "fulfilled" ? "ok" : (o.reason as { code: string }).code)),
    ).toEqual(["ok", "BAD_OPERATION", "ok", "NOT_FOUND"]);
    const snapshot = await h.call("get", { playlistId: p.id });
    expect(trackIdsOf(snapshot)).toEqual(["t-blue1", "t-okc1", "t-okc2"]);
    expect(snapshot.playlist).toMatchObject({ revision: 4, itemCount: 3, name: "Both" });
    const history = await h.call("changesSince", { playlistId: p.id, revision: 0 });
    expect(history.kind === "revisions" && history.revisions.map((r) => r.revision)).toEqual([1, 2, 3, 4]);
  });

  it("spreads positions out again when inserts keep landing in the same gap, keeping the order", async () => {
    const p = await playlistWith("t-blue1", "t-blue2");
    const [a] = p.items as [string, string];
    // Each insert after a halves the gap before the next item: 60 halvings exhaust a double's precision.
    for (let i = 0; i < 60; i += 1) await edit(p.id, 1 + i, insert(a, "t-okc1"));
    const snapshot = await h.call("get", { playlistId: p.id });
    expect(snapshot.items).toHaveLength(62);
    expect(snapshot.items[0]!.trackId).toBe("t-blue1");
    expect(snapshot.items.at(-1)!.trackId).toBe("t-blue2");
  });
});
