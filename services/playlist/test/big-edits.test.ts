// A big edit (500 operations) works in slices with the playlist locked: while its transaction is held open at a
// chosen statement, another user's reads are answered (a connection of their own on SQLite) and a second edit of the
// same playlist waits its turn, landing after the big one with every item in place. On SQLite and PostgreSQL.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { PlaylistOperation } from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, testId, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

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
    const operations = Array.from({ length: 500 }, (_, i) => ({
      opId: testId("op"),
      operation: {
        type: "insert",
        afterItemId: anchor,
        items: [{ itemId: `big-${i}-${testId()}`, trackId: "t-love1" }],
      } satisfies PlaylistOperation,
    }));
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
});
