// The client model on its own: id-addressed operations, the optimistic view over the queue, acknowledgements,
// gaps, refusals, snapshots and saving the offline queue.
import { describe, expect, it } from "vitest";
import type { PlaylistRevision } from "@soundmesh/protocol";
import { ItemList, PlaylistModel } from "@soundmesh/playlist-model";
import { item, snapshotOf } from "./snapshots";

const ids = (list: { toArray(): ReadonlyArray<{ itemId: string }> } | ReadonlyArray<{ itemId: string }>) =>
  ("toArray" in list ? list.toArray() : list).map((i) => i.itemId);

let sequence = 0;
const counterIds = () => `id${String(++sequence).padStart(6, "0")}`;

describe("ItemList", () => {
  it("inserts after an item, at the start and at the end", () => {
    const list = new ItemList([item("aaaaaaaa"), item("bbbbbbbb")]);
    list.apply(
      { type: "insert", afterItemId: "aaaaaaaa", items: [{ itemId: "xxxxxxxx", trackId: "t" }] },
      "u",
      5,
    );
    list.apply({ type: "insert", afterItemId: null, items: [{ itemId: "ssssssss", trackId: "t" }] }, "u", 5);
    list.apply({ type: "insert", afterItemId: "end", items: [{ itemId: "eeeeeeee", trackId: "t" }] }, "u", 5);
    expect(ids(list)).toEqual(["ssssssss", "aaaaaaaa", "xxxxxxxx", "bbbbbbbb", "eeeeeeee"]);
    expect(list.toArray()[2]).toEqual({ itemId: "xxxxxxxx", trackId: "t", addedBy: "u", addedAt: 5 });
  });

  it("lands an insert anchored on a removed item after that item's surviving predecessor", () => {
    const list = new ItemList([item("aaaaaaaa"), item("bbbbbbbb"), item("cccccccc")]);
    list.apply({ type: "remove", itemIds: ["bbbbbbbb", "cccccccc"] }, "u", 1);
    list.apply(
      { type: "insert", afterItemId: "cccccccc", items: [{ itemId: "xxxxxxxx", trackId: "t" }] },
      "u",
      1,
    );
    expect(ids(list)).toEqual(["aaaaaaaa", "xxxxxxxx"]);
  });

  it("moves a range after an anchor, keeps the given order, ignores removed items and self-anchored moves", () => {
    const list = new ItemList(["a", "b", "c", "d", "e"].map((c) => item(c.repeat(8))));
    list.apply({ type: "move", itemIds: ["bbbbbbbb", "cccccccc"], afterItemId: "dddddddd" }, "u", 1);
    expect(ids(list)).toEqual(["aaaaaaaa", "dddddddd", "bbbbbbbb", "cccccccc", "eeeeeeee"]);
    list.apply({ type: "remove", itemIds: ["eeeeeeee"] }, "u", 1);
    list.apply({ type: "move", itemIds: ["eeeeeeee", "aaaaaaaa"], afterItemId: "end" }, "u", 1);
    expect(ids(list)).toEqual(["dddddddd", "bbbbbbbb", "cccccccc", "aaaaaaaa"]);
    list.apply({ type: "move", itemIds: ["dddddddd"], afterItemId: "dddddddd" }, "u", 1);
    expect(ids(list)).toEqual(["dddddddd", "bbbbbbbb", "cccccccc", "aaaaaaaa"]);
  });

  it("keeps the same track twice apart by item id, and removing a removed item is a no-op", () => {
    const list = new ItemList([item("aaaaaaaa", "same"), item("bbbbbbbb", "same")]);
    list.apply({ type: "remove", itemIds: ["aaaaaaaa"] }, "u", 1);
    list.apply({ type: "remove", itemIds: ["aaaaaaaa"] }, "u", 1);
    expect(list.toArray()).toEqual([item("bbbbbbbb", "same")]);
  });
});

describe("PlaylistModel", () => {
  const revision = (n: number, opId: string, operation: PlaylistRevision["operation"]): PlaylistRevision => ({
    revision: n,
    opId,
    author: "u2",
    at: 10,
    operation,
  });

  it("shows queued edits at once and drops them from the queue when their revision arrives", () => {
    const model = new PlaylistModel(snapshotOf(["aaaaaaaa"]), { newId: counterIds, userId: "me" });
    const insert = model.append(["t1"]);
    model.rename("Renamed");
    expect(model.items.map((i) => i.trackId)).toEqual(["t-aaaaaaaa", "t1"]);
    expect(model.meta.name).toBe("Renamed");
    expect(model.confirmedItems).toHaveLength(1);
    const batch = model.takeBatch()!;
    expect(batch.baseRevision).toBe(0);
    expect(batch.operations).toHaveLength(2);
    expect(model.takeBatch()).toBeUndefined();
    model.acknowledge({
      revision: 2,
      applied: batch.operations.map((op, i) => revision(i + 1, op.opId, op.operation)),
    });
    expect(model.pending).toHaveLength(0);
    expect(model.revision).toBe(2);
    expect(ids(model.confirmedItems)).toEqual([
      "aaaaaaaa",
      insert.operation.type === "insert" ? insert.operation.items[0]!.itemId : "",
    ]);
  });

  it("waits for a missing revision before applying later ones, keeping an acknowledged edit visible", () => {
    const model = new PlaylistModel(snapshotOf(["aaaaaaaa"]), { newId: counterIds });
    model.remove(["aaaaaaaa"]);
    const batch = model.takeBatch()!;
    model.acknowledge({
      revision: 2,
      applied: [revision(2, batch.operations[0]!.opId, batch.operations[0]!.operation)],
    });
    expect(model.isBehind).toBe(true);
    expect(model.items).toEqual([]);
    expect(model.takeBatch()).toBeUndefined();
    model.receive([revision(1, "otherop01", { type: "rename", name: "Theirs" })]);
    expect(model.isBehind).toBe(false);
    expect(model.revision).toBe(2);
    expect(model.pending).toHaveLength(0);
    expect(model.meta.name).toBe("Theirs");
  });

  it("keeps operations for a retry when offline, drops only the culprit of a BAD_OPERATION", () => {
    const model = new PlaylistModel(snapshotOf([]), { newId: counterIds });
    const rejected: string[] = [];
    model.onRejected((op, error) => rejected.push(`${op.opId}:${error.code}`));
    model.append(["t1"]);
    const bad = model.remove(["zzzzzzzz"]);
    model.append(["t2"]);
    model.takeBatch();
    expect(model.failBatch({ code: "UNAVAILABLE" })).toBe("retry");
    expect(model.pending).toHaveLength(3);
    model.takeBatch();
    expect(model.failBatch({ code: "BAD_OPERATION", details: { opId: bad.opId } })).toBe("dropped");
    expect(rejected).toEqual([`${bad.opId}:BAD_OPERATION`]);
    expect(model.pending.map((op) => op.operation.type)).toEqual(["insert", "insert"]);
    model.takeBatch();
    expect(model.failBatch({ code: "FORBIDDEN" })).toBe("dropped");
    expect(model.pending).toHaveLength(0);
  });

  it("turns indexes into item anchors when the edit is made (drag and drop)", () => {
    const model = new PlaylistModel(snapshotOf(["aaaaaaaa", "bbbbbbbb", "cccccccc"]), { newId: counterIds });
    expect(model.insertAt(1, ["t1"]).operation).toMatchObject({ afterItemId: "aaaaaaaa" });
    expect(model.insertAt(0, ["t0"]).operation).toMatchObject({ afterItemId: null });
    expect(model.insertAt(99, ["t9"]).operation).toMatchObject({ afterItemId: "cccccccc" });
    expect(model.items.map((i) => i.trackId)).toEqual([
      "t0",
      "t-aaaaaaaa",
      "t1",
      "t-bbbbbbbb",
      "t-cccccccc",
      "t9",
    ]);
    // Move the first item to index 2 of the list without it: after t1.
    const first = model.items[0]!.itemId;
    const move = model.moveTo([first], 2);
    expect(move.operation).toMatchObject({ type: "move", itemIds: [first] });
    expect(model.items.map((i) => i.trackId)).toEqual([
      "t-aaaaaaaa",
      "t1",
      "t0",
      "t-bbbbbbbb",
      "t-cccccccc",
      "t9",
    ]);
  });

  it("refuses an edit that breaks the contract before it reaches the queue", () => {
    const model = new PlaylistModel(snapshotOf([]));
    expect(() => model.rename("")).toThrow();
    expect(() => model.insert("no", ["t1"])).toThrow();
    expect(model.pending).toHaveLength(0);
  });

  it("saves and restores the confirmed state with the offline queue", () => {
    const model = new PlaylistModel(snapshotOf(["aaaaaaaa"], 4), { newId: counterIds });
    model.append(["t9"]);
    const restored = PlaylistModel.restore(JSON.parse(JSON.stringify(model.save())) as never);
    expect(restored.revision).toBe(4);
    expect(restored.items.map((i) => i.trackId)).toEqual(["t-aaaaaaaa", "t9"]);
    expect(restored.takeBatch()?.operations).toEqual(model.save().queue);
  });

  it("a snapshot replaces the confirmed state and keeps unacknowledged edits queued", () => {
    const model = new PlaylistModel(snapshotOf(["aaaaaaaa"]), { newId: counterIds });
    model.append(["t1"]);
    model.applySnapshot(snapshotOf(["bbbbbbbb", "cccccccc"], 700));
    expect(model.revision).toBe(700);
    expect(model.items.map((i) => i.trackId)).toEqual(["t-bbbbbbbb", "t-cccccccc", "t1"]);
  });
});
