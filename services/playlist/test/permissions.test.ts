// Who may see and change a playlist, on SQLite and PostgreSQL; and bad operations: a typed error, nothing changed.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PlaylistOperation } from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, testId, type Harness, type UserName } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

describe.each(targets)("playlist permissions on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  const edit = (playlistId: string, as: UserName, operation: PlaylistOperation, baseRevision = 0) =>
    h.call("edit", { playlistId, baseRevision, operations: [{ opId: testId("op"), operation }] }, as);
  const editFailure = (playlistId: string, as: UserName, operation: PlaylistOperation, baseRevision = 0) =>
    h.failure("edit", { playlistId, baseRevision, operations: [{ opId: testId("op"), operation }] }, as);
  const append: PlaylistOperation = {
    type: "insert",
    afterItemId: "end",
    items: [{ itemId: "appended1", trackId: "t-okc1" }],
  };

  async function create(options: { isPublic?: boolean; isCollaborative?: boolean } = {}) {
    const created = await h.call("create", { name: "Mine", trackIds: ["t-blue1", "t-blue2"], ...options });
    return created.playlist.id;
  }

  it("hides a private playlist from everyone but its owner and collaborators, as if it did not exist", async () => {
    const id = await create();
    expect((await h.failure("get", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");
    expect((await h.failure("changesSince", { playlistId: id, revision: 0 }, "bob")).code).toBe("NOT_FOUND");
    expect((await h.failure("follow", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");
    expect((await editFailure(id, "bob", append)).code).toBe("NOT_FOUND");
    expect(await h.call("access", { playlistId: id }, "bob")).toEqual({ canView: false, canEdit: false });
    expect((await h.failure("get", { playlistId: "doesnotexist" })).code).toBe("NOT_FOUND");
    expect((await h.failure("get", { playlistId: id }, null)).code).toBe("UNAUTHENTICATED");
    await h.collaborate(id, "bob");
    await expect(h.call("get", { playlistId: id }, "bob")).resolves.toMatchObject({
      playlist: { access: { role: "collaborator", canEdit: false } },
    });
  });

  it("lets anyone see and follow a public playlist, but only the owner edit it", async () => {
    const id = await create({ isPublic: true });
    const seen = await h.call("get", { playlistId: id }, "bob");
    expect(seen.playlist.access).toEqual({ role: "viewer", canEdit: false, isFollowing: false });
    expect((await editFailure(id, "bob", append)).code).toBe("FORBIDDEN");
    const followed = await h.call("follow", { playlistId: id }, "bob");
    expect(followed).toMatchObject({ followerCount: 1, access: { role: "follower", isFollowing: true } });
    expect((await h.call("list", {}, "bob")).map((p) => p.id)).toEqual([id]);
    expect((await h.failure("follow", { playlistId: id }, "alice")).code).toBe("BAD_REQUEST");
    // Private again: the follower no longer sees it, in the list or otherwise.
    await edit(id, "alice", { type: "setPublic", isPublic: false }, 1);
    expect(await h.call("list", {}, "bob")).toEqual([]);
    expect((await h.failure("get", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");
    await edit(id, "alice", { type: "setPublic", isPublic: true }, 2);
    await h.call("unfollow", { playlistId: id }, "bob");
    expect(await h.call("list", {}, "bob")).toEqual([]);
  });

  it("lets collaborators edit only while the playlist is collaborative, and never change who sees or edits it", async () => {
    const id = await create();
    await h.collaborate(id, "bob");
    expect((await editFailure(id, "bob", append)).code).toBe("FORBIDDEN");
    await edit(id, "alice", { type: "setCollaborative", isCollaborative: true }, 1);
    await edit(id, "bob", append, 2);
    await edit(id, "bob", { type: "rename", name: "Ours" }, 3);
    const refused = await editFailure(id, "bob", { type: "setPublic", isPublic: true }, 4);
    expect(refused.code).toBe("FORBIDDEN");
    expect((await editFailure(id, "carol", append)).code).toBe("NOT_FOUND");
    const after = await h.call("get", { playlistId: id }, "bob");
    expect(after.playlist).toMatchObject({ name: "Ours", isPublic: false, revision: 4 });
    expect(after.items.map((i) => i.trackId)).toEqual(["t-blue1", "t-blue2", "t-okc1"]);
    expect(after.items[2]!.addedBy).toBe("u-bob");
  });

  it("lets only the owner invite or remove collaborators; a collaborator may leave", async () => {
    const id = await create({ isCollaborative: true });
    const sent = await h.call("invite", { playlistId: id, userName: "bob" });
    expect(sent).toEqual({ playlistId: id, user: { id: "u-bob", name: "bob" }, invitedAt: h.clock.now() });
    await h.call("acceptInvitation", { playlistId: id }, "bob");
    expect((await h.call("get", { playlistId: id })).playlist.collaborators).toEqual([
      { id: "u-bob", name: "bob" },
    ]);
    expect((await h.failure("invite", { playlistId: id, userName: "carol" }, "bob")).code).toBe("FORBIDDEN");
    expect((await h.failure("invite", { playlistId: id, userName: "nobody" })).code).toBe("NOT_FOUND");
    expect((await h.failure("invite", { playlistId: id, userName: "alice" })).code).toBe("BAD_REQUEST");
    expect((await h.failure("invite", { playlistId: id, userName: "bob" })).code).toBe("ALREADY_EXISTS");
    await h.call("invite", { playlistId: id, userName: "carol" });
    await h.call("acceptInvitation", { playlistId: id }, "carol");
    expect((await h.failure("removeCollaborator", { playlistId: id, userId: "u-carol" }, "bob")).code).toBe(
      "FORBIDDEN",
    );
    await h.call("removeCollaborator", { playlistId: id, userId: "u-bob" }, "bob");
    expect((await editFailure(id, "bob", append, 1)).code).toBe("NOT_FOUND");
    await expect.poll(() => h.events.filter((e) => e.membersChanged).length).toBe(5);
    // Each change reaches the lists of those it concerns; bob hears of his leaving though no longer a member.
    // (The first event is the playlist's first revision, its tracks; the second puts it on alice's list; then each
    // invitation reaches its invitee's list, and so does each acceptance.)
    expect(h.events.map((e) => e.listsChanged)).toEqual([
      [],
      ["u-alice"],
      ["u-bob"],
      ["u-bob"],
      ["u-carol"],
      ["u-carol"],
      ["u-bob"],
    ]);
    expect(h.events.at(-1)!.audience).toContain("u-bob");
  });

  it("transfers ownership to a collaborator or follower only; the old owner stays a collaborator", async () => {
    const id = await create({ isPublic: true, isCollaborative: true });
    expect((await h.failure("transfer", { playlistId: id, toUserId: "u-bob" })).code).toBe("BAD_REQUEST");
    await h.call("follow", { playlistId: id }, "bob");
    expect((await h.failure("transfer", { playlistId: id, toUserId: "u-alice" }, "bob")).code).toBe(
      "FORBIDDEN",
    );
    const moved = await h.call("transfer", { playlistId: id, toUserId: "u-bob" });
    await expect.poll(() => h.events.at(-1)?.listsChanged).toEqual(["u-bob", "u-alice"]);
    expect(moved).toMatchObject({ ownerId: "u-bob", access: { role: "collaborator" } });
    const asBob = await h.call("get", { playlistId: id }, "bob");
    expect(asBob.playlist).toMatchObject({ ownerName: "bob", access: { role: "owner" } });
    expect(asBob.playlist.collaborators).toEqual([{ id: "u-alice", name: "alice" }]);
    await edit(id, "bob", { type: "setPublic", isPublic: false }, 1);
    await edit(id, "alice", append, 2);
  });

  it("deleting keeps a tombstone: followers are told, reads answer GONE, edits change nothing", async () => {
    const id = await create({ isPublic: true });
    await h.call("follow", { playlistId: id }, "carol");
    expect((await h.failure("delete", { playlistId: id }, "carol")).code).toBe("FORBIDDEN");
    await h.call("delete", { playlistId: id });
    await expect.poll(() => h.events.find((e) => e.deleted)).toMatchObject({ playlistId: id, deleted: true });
    expect(h.events.find((e) => e.deleted)!.listsChanged.sort()).toEqual(["u-alice", "u-carol"]);
    expect((await h.failure("get", { playlistId: id }, "carol")).code).toBe("GONE");
    expect((await h.failure("get", { playlistId: id })).code).toBe("GONE");
    expect((await editFailure(id, "alice", append, 1)).code).toBe("GONE");
    expect(await h.call("access", { playlistId: id }, "carol")).toEqual({ canView: true, canEdit: false });
    expect(await h.call("list", {}, "carol")).toEqual([]);
    expect((await h.store.findPlaylist(id))?.revision).toBe(1);
  });

  describe("bad operations get a typed error and change nothing", () => {
    async function expectUnchanged(id: string, change: () => Promise<{ code: string }>, code: string) {
      const before = await h.call("get", { playlistId: id });
      const eventsBefore = h.events.length;
      expect((await change()).code).toBe(code);
      expect(await h.call("get", { playlistId: id })).toEqual(before);
      expect(h.events.length).toBe(eventsBefore);
    }

    it("refuses malformed operations before they reach the service", async () => {
      const id = await create();
      const malformed: unknown[] = [
        { type: "insert", afterItemId: null, items: [] },
        { type: "insert", afterItemId: "x", items: [{ itemId: "goodid001", trackId: "t-blue1" }] },
        { type: "insert", afterItemId: null, items: [{ itemId: "bad id!!", trackId: "t-blue1" }] },
        { type: "rename", name: "   " },
        { type: "explode" },
        { type: "move", itemIds: "all", afterItemId: null },
      ];
      for (const operation of malformed) {
        await expectUnchanged(
          id,
          () =>
            h.failure("edit", {
              playlistId: id,
              baseRevision: 1,
              operations: [{ opId: testId("op"), operation: operation as PlaylistOperation }],
            }),
          "VALIDATION_FAILED",
        );
      }
      await expectUnchanged(
        id,
        () => h.failure("edit", { playlistId: id, baseRevision: -1, operations: [] }),
        "VALIDATION_FAILED",
      );
    });

    it("refuses out-of-range operations with BAD_OPERATION naming the operation, and a future base revision", async () => {
      const id = await create();
      const { items } = await h.call("get", { playlistId: id });
      const [a, b] = items.map((item) => item.itemId) as [string, string];
      const cases: PlaylistOperation[] = [
        { type: "remove", itemIds: ["neverexisted"] },
        { type: "insert", afterItemId: "neverexisted", items: [{ itemId: "newitem01", trackId: "t-okc1" }] },
        { type: "insert", afterItemId: null, items: [{ itemId: a, trackId: "t-okc1" }] },
        {
          type: "insert",
          afterItemId: null,
          items: [
            { itemId: "twiceid01", trackId: "t-okc1" },
            { itemId: "twiceid01", trackId: "t-okc2" },
          ],
        },
        { type: "move", itemIds: [a, b], afterItemId: b },
        { type: "move", itemIds: [a, a], afterItemId: null },
        { type: "move", itemIds: [a], afterItemId: "neverexisted" },
      ];
      for (const operation of cases) {
        const opId = testId("op");
        // A good operation first: the whole batch is refused, it included.
        const good = { opId: testId("op"), operation: { type: "rename" as const, name: "Changed" } };
        await expectUnchanged(
          id,
          async () => {
            const error = await h.failure("edit", {
              playlistId: id,
              baseRevision: 1,
              operations: [good, { opId, operation }],
            });
            expect(error.details).toMatchObject({ opId });
            return error;
          },
          "BAD_OPERATION",
        );
      }
      await expectUnchanged(id, () => editFailure(id, "alice", append, 2), "REVISION_AHEAD");
      await expectUnchanged(
        id,
        () => h.failure("changesSince", { playlistId: id, revision: 9 }),
        "REVISION_AHEAD",
      );
    });

    it("refuses item edits on a smart playlist, whose items follow its rules", async () => {
      const smart = await h.call("createSmart", { name: "Jazz", rules: { genres: ["jazz"] } });
      await expectUnchanged(
        smart.playlist.id,
        () => editFailure(smart.playlist.id, "alice", append, smart.playlist.revision),
        "BAD_OPERATION",
      );
    });
  });
});
