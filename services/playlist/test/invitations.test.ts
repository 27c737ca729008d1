// Collaboration by invitation, on SQLite and PostgreSQL: nobody becomes a collaborator until they accept; limits per
// inviter and per invitee; blocks keep a user's invitations away without telling them.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  INVITATIONS_PER_HOUR,
  MAX_PENDING_INVITATIONS_BETWEEN,
  MAX_PENDING_RECEIVED_INVITATIONS,
  MAX_PENDING_SENT_INVITATIONS,
} from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, type Harness, type UserName } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });
const HOUR_MS = 3_600_000;

describe.each(targets)("playlist invitations on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  const create = async (as: UserName = "alice", name = "Mine") =>
    (await h.call("create", { name, isCollaborative: true, trackIds: ["t-blue1"] }, as)).playlist.id;
  const listOf = async (as: UserName) => (await h.call("list", {}, as)).map((playlist) => playlist.id);
  const receivedBy = async (as: UserName) =>
    (await h.call("receivedInvitations", {}, as)).map((invitation) => invitation.playlistId);
  const sentFor = async (playlistId: string, as: UserName = "alice") =>
    (await h.call("sentInvitations", { playlistId }, as)).map((invitation) => invitation.user.name);
  const markers = new Set<string>();
  /**
   * How many events there are once every one published so far is recorded: a marker playlist published last tells
   * (events arrive in order), and its own events are left out of `listPushesAfter`.
   */
  async function settled(): Promise<number> {
    const marker = await create("listener999", "Marker");
    markers.add(marker);
    await expect
      .poll(() => h.events.some((e) => e.playlistId === marker && e.listsChanged.length > 0))
      .toBe(true);
    return h.events.length;
  }
  /** Who heard on `playlists.mine` after the first `count` events, up to now. */
  const listPushesAfter = async (count: number) => {
    await settled();
    return h.events
      .slice(count)
      .filter((event) => !markers.has(event.playlistId))
      .flatMap((event) => event.listsChanged);
  };

  it("makes nobody a collaborator until they accept; then the playlist joins their list", async () => {
    const id = await create();
    const before = await settled();
    await h.call("invite", { playlistId: id, userName: "bob" });
    expect(await listOf("bob")).toEqual([]);
    expect((await h.failure("get", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");
    expect(await h.call("receivedInvitations", {}, "bob")).toEqual([
      {
        playlistId: id,
        playlistName: "Mine",
        from: { id: "u-alice", name: "alice" },
        invitedAt: h.clock.now(),
      },
    ]);
    expect(await sentFor(id)).toEqual(["bob"]);
    expect(await listPushesAfter(before)).toEqual(["u-bob"]);

    const joined = await h.call("acceptInvitation", { playlistId: id }, "bob");
    expect(joined.access).toMatchObject({ role: "collaborator", canEdit: true });
    expect(await listOf("bob")).toEqual([id]);
    expect(await receivedBy("bob")).toEqual([]);
    expect(await sentFor(id)).toEqual([]);
    expect((await h.failure("acceptInvitation", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");
  });

  it("ends an invitation when the invitee declines or the owner cancels; only they may", async () => {
    const id = await create();
    const first = await h.call("invite", { playlistId: id, userName: "bob" });
    h.clock.advance(1_000);
    // Asked again while it waits: the same invitation, nothing sent twice.
    expect(await h.call("invite", { playlistId: id, userName: "bob" })).toEqual(first);
    expect((await h.failure("acceptInvitation", { playlistId: id }, "carol")).code).toBe("NOT_FOUND");
    expect((await h.failure("sentInvitations", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");
    expect((await h.failure("cancelInvitation", { playlistId: id, userId: "u-bob" }, "bob")).code).toBe(
      "NOT_FOUND",
    );
    await h.call("declineInvitation", { playlistId: id }, "bob");
    expect(await sentFor(id)).toEqual([]);
    expect(await listOf("bob")).toEqual([]);
    expect((await h.failure("declineInvitation", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");

    await h.call("invite", { playlistId: id, userName: "bob" });
    const before = await settled();
    await h.call("cancelInvitation", { playlistId: id, userId: "u-bob" });
    expect(await receivedBy("bob")).toEqual([]);
    expect(await listPushesAfter(before)).toEqual(["u-bob"]);
    expect((await h.failure("cancelInvitation", { playlistId: id, userId: "u-bob" })).code).toBe("NOT_FOUND");
    expect((await h.failure("acceptInvitation", { playlistId: id }, "bob")).code).toBe("NOT_FOUND");
  });

  it("refuses bad and anonymous calls", async () => {
    const id = await create();
    expect((await h.failure("invite", { playlistId: id, userName: "" })).code).toBe("VALIDATION_FAILED");
    expect((await h.failure("invite", { playlistId: id, userName: "x".repeat(65) })).code).toBe(
      "VALIDATION_FAILED",
    );
    expect((await h.failure("invite", { playlistId: "unknown1", userName: "bob" })).code).toBe("NOT_FOUND");
    expect((await h.failure("receivedInvitations", {}, null)).code).toBe("UNAUTHENTICATED");
    expect((await h.failure("block", { userName: "bob" }, null)).code).toBe("UNAUTHENTICATED");
    expect((await h.failure("block", { userName: "nobody" })).code).toBe("NOT_FOUND");
    expect((await h.failure("block", { userName: "alice" })).code).toBe("BAD_REQUEST");
    expect((await h.failure("unblock", { userId: "u-bob" })).code).toBe("NOT_FOUND");
  });

  it(`lets one user send ${INVITATIONS_PER_HOUR} invitations an hour, cancelled ones included`, async () => {
    const id = await create();
    // Sent all at once, they still pass one at a time: exactly the limit gets through.
    const burst = await Promise.allSettled(
      Array.from({ length: INVITATIONS_PER_HOUR + 10 }, (_, i) =>
        h.call("invite", { playlistId: id, userName: `listener${100 + i}` }),
      ),
    );
    expect(burst.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(INVITATIONS_PER_HOUR);
    for (const invitation of await h.call("sentInvitations", { playlistId: id }))
      await h.call("cancelInvitation", { playlistId: id, userId: invitation.user.id });
    h.clock.advance(HOUR_MS);
    for (let i = 1; i <= INVITATIONS_PER_HOUR; i += 1) {
      await h.call("invite", { playlistId: id, userName: `listener${i}` });
      h.clock.advance(1_000);
    }
    const refused = await h.failure("invite", { playlistId: id, userName: "bob" });
    expect(refused.code).toBe("RATE_LIMITED");
    // The first one leaves the window an hour after it was sent.
    expect(refused.details).toEqual({ retryAfterMs: HOUR_MS - INVITATIONS_PER_HOUR * 1_000 });
    for (let i = 1; i <= INVITATIONS_PER_HOUR; i += 1)
      await h.call("cancelInvitation", { playlistId: id, userId: `u-listener${i}` });
    expect((await h.failure("invite", { playlistId: id, userName: "bob" })).code).toBe("RATE_LIMITED");
    h.clock.advance(HOUR_MS);
    await h.call("invite", { playlistId: id, userName: "bob" });
    expect(await sentFor(id)).toEqual(["bob"]);
  });

  it(`keeps at most ${MAX_PENDING_SENT_INVITATIONS} of one user's invitations waiting, and ${MAX_PENDING_INVITATIONS_BETWEEN} to the same user`, async () => {
    const id = await create();
    for (let i = 1; i <= MAX_PENDING_SENT_INVITATIONS; i += 1) {
      if (i > 1 && (i - 1) % INVITATIONS_PER_HOUR === 0) h.clock.advance(HOUR_MS);
      await h.call("invite", { playlistId: id, userName: `listener${i}` });
    }
    h.clock.advance(HOUR_MS);
    const refused = await h.failure("invite", { playlistId: id, userName: "bob" });
    expect(refused).toMatchObject({ code: "RATE_LIMITED", message: expect.stringMatching(/cancel some/) });
    await h.call("cancelInvitation", { playlistId: id, userId: "u-listener1" });
    await h.call("invite", { playlistId: id, userName: "bob" });

    // Carol asks bob to one playlist after another: the sixth waits until he answers one.
    const carols = [];
    for (let i = 0; i <= MAX_PENDING_INVITATIONS_BETWEEN; i += 1) carols.push(await create("carol", `C${i}`));
    for (const playlistId of carols.slice(0, -1))
      await h.call("invite", { playlistId, userName: "bob" }, "carol");
    const tooMany = await h.failure("invite", { playlistId: carols.at(-1)!, userName: "bob" }, "carol");
    expect(tooMany.code).toBe("RATE_LIMITED");
    await h.call("declineInvitation", { playlistId: carols[0]! }, "bob");
    await h.call("invite", { playlistId: carols.at(-1)!, userName: "bob" }, "carol");
  });

  it(`shows one user at most ${MAX_PENDING_RECEIVED_INVITATIONS} waiting invitations and refuses more`, async () => {
    const senders = MAX_PENDING_RECEIVED_INVITATIONS / MAX_PENDING_INVITATIONS_BETWEEN;
    for (let s = 1; s <= senders; s += 1)
      for (let i = 0; i < MAX_PENDING_INVITATIONS_BETWEEN; i += 1) {
        const { playlist } = await h.call("create", { name: `L${s}-${i}` }, `listener${s}`);
        const playlistId = playlist.id;
        await h.call("invite", { playlistId, userName: "carol" }, `listener${s}`);
      }
    const one = await create("bob");
    expect((await h.failure("invite", { playlistId: one, userName: "carol" }, "bob")).code).toBe(
      "RATE_LIMITED",
    );
    expect(await receivedBy("carol")).toHaveLength(MAX_PENDING_RECEIVED_INVITATIONS);
    // Declining makes room again.
    await h.call("declineInvitation", { playlistId: (await receivedBy("carol"))[0]! }, "carol");
    await h.call("invite", { playlistId: one, userName: "carol" }, "bob");
  });

  it("keeps a blocked user's invitations from the blocker, and answers the blocked user as if nothing were wrong", async () => {
    const bobs = [await create("bob", "B1"), await create("bob", "B2")];
    await h.call("invite", { playlistId: bobs[0]!, userName: "alice" }, "bob");
    expect(await receivedBy("alice")).toEqual([bobs[0]]);

    await h.call("block", { userName: "bob" });
    await h.call("block", { userName: "bob" });
    expect(await h.call("blockedUsers", {})).toEqual([
      { id: "u-bob", name: "bob", blockedAt: h.clock.now() },
    ]);
    expect(await receivedBy("alice")).toEqual([]);
    // To bob the invitation still waits, as one alice ignores would.
    expect(await sentFor(bobs[0]!, "bob")).toEqual(["alice"]);

    const before = await settled();
    const toAlice = await h.call("invite", { playlistId: bobs[1]!, userName: "alice" }, "bob");
    const toCarol = await h.call("invite", { playlistId: bobs[1]!, userName: "carol" }, "bob");
    expect(toAlice).toEqual({ ...toCarol, user: { id: "u-alice", name: "alice" } });
    expect(await sentFor(bobs[1]!, "bob")).toEqual(["alice", "carol"]);
    expect(await receivedBy("alice")).toEqual([]);
    expect((await h.failure("acceptInvitation", { playlistId: bobs[1]! })).code).toBe("NOT_FOUND");
    expect(await listPushesAfter(before)).toEqual(["u-carol"]);

    // Unblocked: what bob sent meanwhile ends as a declined invitation does; new ones arrive again.
    await h.call("unblock", { userId: "u-bob" });
    expect(await h.call("blockedUsers", {})).toEqual([]);
    expect(await sentFor(bobs[0]!, "bob")).toEqual([]);
    expect(await sentFor(bobs[1]!, "bob")).toEqual(["carol"]);
    await h.call("invite", { playlistId: bobs[1]!, userName: "alice" }, "bob");
    expect(await receivedBy("alice")).toEqual([bobs[1]]);
    await h.call("acceptInvitation", { playlistId: bobs[1]! });
    expect(await listOf("alice")).toContain(bobs[1]);
  });

  it("withdraws a playlist's invitations when it is deleted or handed over", async () => {
    const gone = await create();
    await h.call("invite", { playlistId: gone, userName: "bob" });
    const before = await settled();
    await h.call("delete", { playlistId: gone });
    expect(await receivedBy("bob")).toEqual([]);
    expect(await listPushesAfter(before)).toContain("u-bob");

    const given = (await h.call("create", { name: "Given", isPublic: true })).playlist.id;
    await h.call("follow", { playlistId: given }, "carol");
    await h.call("invite", { playlistId: given, userName: "bob" });
    await h.call("transfer", { playlistId: given, toUserId: "u-carol" });
    expect(await receivedBy("bob")).toEqual([]);
    expect(await sentFor(given, "carol")).toEqual([]);
  });
});
