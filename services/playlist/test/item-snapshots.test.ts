// Playlist items keep what their track was when added: once the track leaves the library the item still says what
// it was (for the player to grey it), and it heals when the track comes back with its id.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { sql } from "@soundmesh/db";
import { catalogContract } from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { fixtureTracks, preparePlaylistDb, startHarness, trackRowOf, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

describe.each(targets)("playlist item snapshots on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target, { snapshots: true });
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  const catalogTracks = (trackIds: string[]) =>
    h.bus
      .connect({ service: "access-point", calls: ["catalog"] })
      .request(catalogContract, "tracks", { trackIds }, { userId: "u-alice", role: "user" });

  it("an item whose track is removed still shows what it was, and heals when the track returns", async () => {
    const created = await h.call("create", { name: "Mix", trackIds: ["t-blue1", "t-okc1"] });
    const playlistId = created.playlist.id;
    const snapshots = () => h.call("trackSnapshots", { playlistId, trackIds: ["t-blue1", "t-okc1"] });
    await expect.poll(async () => (await snapshots()).length).toBe(2);
    expect((await snapshots()).find((s) => s.trackId === "t-blue1")).toEqual({
      trackId: "t-blue1",
      title: "So What",
      artist: "Miles Davis",
      album: "Kind of Blue",
      durationMs: 562_000,
    });

    // The track leaves the library (a scan found its file gone): the catalog no longer answers for it.
    await h.catalog.applyScan({ upserts: [], deletions: ["t-blue1"], errors: [], clearedErrorPaths: [] });
    await h.catalogChanged();
    expect((await catalogTracks(["t-blue1", "t-okc1"])).map((t) => t.id)).toEqual(["t-okc1"]);
    // The item stays, and says what it was; retagging the returning file later does not change that.
    expect((await h.call("get", { playlistId })).items.map((item) => item.trackId)).toEqual([
      "t-blue1",
      "t-okc1",
    ]);
    expect((await snapshots()).find((s) => s.trackId === "t-blue1")).toMatchObject({ title: "So What" });

    // Back with its id (a tombstone matched its file): the same item plays again.
    const back = trackRowOf({ ...fixtureTracks[0]!, title: "So What (Remastered)" });
    await h.catalog.applyScan({ upserts: [back], deletions: [], errors: [], clearedErrorPaths: [] });
    expect((await catalogTracks(["t-blue1"])).map((t) => t.title)).toEqual(["So What (Remastered)"]);
    expect((await snapshots()).find((s) => s.trackId === "t-blue1")).toMatchObject({ title: "So What" });
  });

  it("writes a track the service knows with the item itself, and what the track is now after a catalog change", async () => {
    const created = await h.call("create", { name: "Known" });
    const playlistId = created.playlist.id;
    let revision = created.playlist.revision;
    let next = 0;
    const insert = async (trackId: string) => {
      const itemId = `known-item-${(next += 1)}`;
      const answer = await h.call("edit", {
        playlistId,
        baseRevision: revision,
        operations: [
          {
            opId: `known-op-${next}`,
            operation: { type: "insert", afterItemId: "end", items: [{ itemId, trackId }] },
          },
        ],
      });
      revision = answer.revision;
      return itemId;
    };
    const titleOf = async (itemId: string) =>
      (
        await sql<{ title: string | null }>`
          select snapshot_title as title from playlist_items where item_id = ${itemId}`.execute(h.db.kysely)
      ).rows[0]?.title ?? null;

    const first = await insert("t-blue1");
    await expect.poll(() => titleOf(first)).toBe("So What");
    // The catalog loses the track without telling (no catalog.changed yet): a fill could no longer learn its title,
    // so the next item has it only if the edit wrote what the service knew.
    await h.catalog.applyScan({ upserts: [], deletions: ["t-blue1"], errors: [], clearedErrorPaths: [] });
    const second = await insert("t-blue1");
    await expect.poll(() => titleOf(second)).toBe("So What");

    // Back, retagged, and announced: a new item takes the track as it is now. (The first item, made to lack its
    // snapshot, is filled by the sweep the announcement starts: once it is, the service has heard the change.)
    const back = trackRowOf({ ...fixtureTracks[0]!, title: "So What (Remastered)" });
    await h.catalog.applyScan({ upserts: [back], deletions: [], errors: [], clearedErrorPaths: [] });
    await sql`update playlist_items set snapshot_title = null where item_id = ${first}`.execute(h.db.kysely);
    await h.catalogChanged();
    await expect.poll(() => titleOf(first)).toBe("So What (Remastered)");
    const third = await insert("t-blue1");
    await expect.poll(() => titleOf(third)).toBe("So What (Remastered)");
    expect(await titleOf(second)).toBe("So What");
  });

  it("fills items a fill missed once the service starts, and refuses snapshots of a playlist one cannot see", async () => {
    const created = await h.call("create", { name: "Quiet", trackIds: ["t-okc2"] });
    const playlistId = created.playlist.id;
    const titles = async () =>
      (await h.call("trackSnapshots", { playlistId, trackIds: ["t-okc2"] })).map((s) => s.title);
    await expect.poll(titles).toEqual(["Paranoid Android"]);
    // As if the process had died between the edit's commit and the fill after it.
    await h.service.stop();
    await sql`update playlist_items set snapshot_title = null, snapshot_artist = null`.execute(h.db.kysely);
    const unfilled = await sql<{ n: number }>`
      select count(*) as n from playlist_items where snapshot_title is null`.execute(h.db.kysely);
    expect(Number(unfilled.rows[0]!.n)).toBe(1);
    await h.service.start();
    await expect.poll(titles).toEqual(["Paranoid Android"]);
    expect((await h.failure("trackSnapshots", { playlistId, trackIds: ["t-okc2"] }, "bob")).code).toBe(
      "NOT_FOUND",
    );
    expect((await h.failure("trackSnapshots", { playlistId, trackIds: ["bad id!"] })).code).toBe(
      "VALIDATION_FAILED",
    );
  });
});
