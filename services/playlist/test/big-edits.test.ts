// A big edit (500 operations) works in slices with the playlist locked: while its transaction is held open at a
// chosen statement, another user's reads are answered (a connection of their own on SQLite) and a second edit of the
// same playlist waits its turn, landing after the big one with every item in place. On SQLite and PostgreSQL.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { PlaylistOperation } from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, testId, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

/** 500 operations, each inserting one new item right after `anchor`. */
const insertsAfter = (anchor: string) =>
  Array.from({ length: 500 }, (_, i) => ({
    opId: testId("op"),
    operation: {
      type: "insert",
      afterItemId: anchor,
      items: [{ itemId: `big-${i}-${testId()}`, trackId: "t-love1" }],
    } satisfies PlaylistOperation,
  }));

describe.each(targets)("a big playlist edit on $name", (target) => {
  let h: Harness | undefined;
  afterEach(() => h?.close());
  afterAll(() => target.dispose());

  it("answers another user's reads while its transaction is open, and keeps the playlist's edits in order", async () => {
    /** Armed: the next insert into playlist_revisions holds its transaction until released. */
    let armed = false;
    let held: (() => void) | undefined;
    const holding = new Promise<void>((resolve) => (held = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    h = await startHarness(target, {
      gate: async (insertInto) => {
        if (!armed || insertInto !== "playlist_revisions") return;
        armed = false;
        held!();
        await released;
      },
    });
    const harness = h;
    const big = await harness.call("create", { name: "Big", trackIds: ["t-blue1"], isCollaborative: true });
    const anchor = big.items[0]!.itemId;
    const theirs = await harness.call("create", { name: "Theirs", trackIds: ["t-blue2", "t-okc1"] }, "bob");
    const operations = insertsAfter(anchor);
    armed = true;
    const bigEdit = harness.call("edit", { playlistId: big.playlist.id, baseRevision: 1, operations });
    await holding;
    // The big edit's transaction is open (its revisions not yet written). Bob reads his own playlist, and Alice's
    // last committed state; Alice's next edit of the same playlist waits for the big one.
    const second = harness.call("edit", {
      playlistId: big.playlist.id,
      baseRevision: 1,
      operations: [{ opId: testId("op"), operation: { type: "rename", name: "Bigger" } }],
    });
    expect(await harness.call("get", { playlistId: theirs.playlist.id }, "bob")).toEqual(theirs);
    const during = await harness.call("get", { playlistId: big.playlist.id });
    expect(during.playlist.revision).toBe(1);
    expect(during.items.map((item) => item.itemId)).toEqual([anchor]);
    release();
    const [first, renamed] = await Promise.all([bigEdit, second]);
    expect(first.revision).toBe(501);
    expect(renamed.revision).toBe(502);
    const after = await harness.call("get", { playlistId: big.playlist.id });
    expect(after.playlist).toMatchObject({ name: "Bigger", revision: 502, itemCount: 501 });
    // Each insert went right after the anchor, so the last one stands first after it.
    expect(after.items.map((item) => item.itemId)).toEqual([
      anchor,
      ...operations.map(({ operation }) => operation.items[0]!.itemId).reverse(),
    ]);
  });

  it("answers a resubmitted big edit with its first revisions, looked up in slices, and applies only what is new", async () => {
    h = await startHarness(target);
    const harness = h;
    const big = await harness.call("create", { name: "Big", trackIds: ["t-blue1"] });
    const anchor = big.items[0]!.itemId;
    const operations = insertsAfter(anchor);
    const first = await harness.call("edit", { playlistId: big.playlist.id, baseRevision: 1, operations });
    const before = await harness.call("get", { playlistId: big.playlist.id });
    // The acknowledgement was lost: the client sends 499 of the operations again (at most 500 go in one edit), and
    // one more after them.
    const rename = { opId: testId("op"), operation: { type: "rename", name: "Again" } } as const;
    const again = await harness.call("edit", {
      playlistId: big.playlist.id,
      baseRevision: 1,
      operations: [...operations.slice(1), rename],
    });
    expect(again.applied.slice(0, 499)).toEqual(first.applied.slice(1));
    expect(again.applied[499]).toMatchObject({ revision: 502, opId: rename.opId });
    const after = await harness.call("get", { playlistId: big.playlist.id });
    expect(after.items).toEqual(before.items);
    expect(after.playlist).toMatchObject({ name: "Again", revision: 502, itemCount: 501 });
  });
});
