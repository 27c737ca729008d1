// The outbox of standing changes, on SQLite and PostgreSQL: every change that ends credentials or rights is
// recorded with it, announced at once by the instance that made it, and by a following instance when another
// process (the CLI) made it — so a running server hears of `soundmesh user disable` too.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { dbTargets } from "@soundmesh/test-kit";
import { adminName, adminPassword, prepareUserDb, startHarness, type Harness } from "./harness";

const targets = await dbTargets({ prepare: prepareUserDb });
const cli = { role: "admin" as const };

describe.each(targets)("standing changes on $name", (target) => {
  let h: Harness;
  interface OutboxRow {
    seq: number | string;
    user_id: string;
    kind: string;
    credential_ids: string;
  }
  const outbox = async () =>
    (
      (await h.db.kysely
        .selectFrom("user_standing_changes")
        .select(["seq", "user_id", "kind", "credential_ids"])
        .orderBy("seq")
        .execute()) as OutboxRow[]
    ).map(({ seq, user_id, kind, credential_ids }) => {
      return {
        seq: Number(seq),
        userId: user_id,
        kind,
        credentialIds: JSON.parse(credential_ids) as string[],
      };
    });

  /** Events travel asynchronously: waits until those at these positions have arrived. */
  const announced = (seqs: number[]) => Promise.all(seqs.map((seq) => h.revoked((e) => e.seq === seq)));

  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  it("records every kind of change in the outbox with the credentials it ended, in order", async () => {
    const admin = await h.setupAdmin();
    const alice = await h.addUser("alice", "alice password");
    const api = await h.call("createApiToken", { label: "t", expiresInDays: 1 }, alice.as);
    const second = await h.call("login", { name: "alice", password: "alice password", address: "a" });
    await h.call("logout", { token: second.token });
    await h.call("revokeApiToken", { id: api.id }, alice.as);
    const third = await h.call("login", { name: "alice", password: "alice password", address: "a" });
    await h.call(
      "changePassword",
      { oldPassword: "alice password", newPassword: "alice password 2" },
      { userId: alice.id, role: "user" },
    );
    await h.call("setPassword", { name: "alice", password: "alice password 3" }, cli);
    await h.call("setRole", { name: "alice", role: "admin" }, admin.as);
    await h.call("setDisabled", { name: "alice", disabled: true }, admin.as);
    await h.call("setDisabled", { name: "alice", disabled: false }, admin.as);
    await h.call("revokeAllSessions", {}, admin.as);
    const rows = await outbox();
    expect(rows.map((row) => row.kind)).toEqual([
      "logout",
      "token-revoked",
      "password-changed",
      "password-set",
      "role-changed",
      "disabled",
      "enabled",
      "signed-out-everywhere",
    ]);
    expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows[0]!.credentialIds).toEqual([second.session.id]);
    expect(rows[1]!.credentialIds).toEqual([api.id]);
    expect(rows[2]!.credentialIds.sort()).toEqual([alice.sessionId, third.session.id].sort());
    expect(rows[7]).toMatchObject({ userId: admin.id, credentialIds: [admin.sessionId] });
    // Every row was announced once, by this instance, with the user's standing after the change.
    await announced([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(h.events.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(h.events[5]).toMatchObject({ kind: "disabled", user: { role: "admin", disabled: true } });
    expect(h.events[4]).toMatchObject({ kind: "role-changed", user: { role: "admin", disabled: false } });
    // The follower does not announce them again.
    await expect(h.service.pollStanding()).resolves.toBe(0);
  });

  it("records nothing for a refused change or a logout that ends nothing", async () => {
    const admin = await h.setupAdmin();
    expect((await h.failure("setDisabled", { name: adminName, disabled: true }, admin.as)).code).toBe(
      "CONFLICT",
    );
    expect((await h.failure("setRole", { name: adminName, role: "user" }, cli)).code).toBe("CONFLICT");
    await h.call("logout", { token: "z".repeat(43) });
    expect((await h.failure("revokeApiToken", { id: "nope" }, admin.as)).code).toBe("NOT_FOUND");
    expect(await outbox()).toEqual([]);
  });

  it("announces what another instance on the same database changed (the CLI beside a server), once", async () => {
    await h.setupAdmin();
    const alice = await h.addUser("alice", "alice password");
    const bob = await h.addUser("bob", "bob password");
    const api = await h.call("createApiToken", { label: "script" }, bob.as);
    const side = await h.sideInstance();
    try {
      await side.call("setDisabled", { name: "alice", disabled: true }, cli);
      await side.call("setPassword", { name: "bob", password: "bob's new password" }, cli);
      await side.call("setRole", { name: "bob", role: "admin" }, cli);
      // The side instance's own bus has no access point: nothing has reached ours yet.
      expect(h.events).toEqual([]);
      await expect(h.service.pollStanding()).resolves.toBe(3);
      await announced([1, 2, 3]);
      expect(h.events).toEqual([
        {
          seq: 1,
          userId: alice.id,
          kind: "disabled",
          credentialIds: [alice.sessionId],
          user: { role: "user", disabled: true },
        },
        // The standing is read when announcing: bob is an admin by now.
        {
          seq: 2,
          userId: bob.id,
          kind: "password-set",
          credentialIds: expect.arrayContaining([bob.sessionId, api.id]) as string[],
          user: { role: "admin", disabled: false },
        },
        {
          seq: 3,
          userId: bob.id,
          kind: "role-changed",
          credentialIds: [],
          user: { role: "admin", disabled: false },
        },
      ]);
      await expect(h.service.pollStanding()).resolves.toBe(0);
      expect(h.events).toHaveLength(3);
    } finally {
      await side.close();
    }
  });

  it("follows the outbox by itself every standingPollMs while started", async () => {
    await h.close();
    h = await startHarness(target, { standingPollMs: 20 });
    await h.setupAdmin();
    const alice = await h.addUser("alice");
    const side = await h.sideInstance();
    try {
      await side.call("setDisabled", { name: "alice", disabled: true }, cli);
      await expect(h.revoked((e) => e.credentialIds.includes(alice.sessionId), 5_000)).resolves.toMatchObject(
        {
          kind: "disabled",
        },
      );
    } finally {
      await side.close();
    }
  });

  it("misses nothing when two instances change standing at the same time", async () => {
    await h.setupAdmin();
    const users = [];
    for (let i = 0; i < 6; i++) users.push(await h.addUser(`user${i}`, `user${i} password`));
    const side = await h.sideInstance();
    try {
      // Each user gets extra sessions; then both instances end them concurrently.
      const extra = await Promise.all(
        users.map((u, i) =>
          h.call("login", { name: `user${i}`, password: `user${i} password`, address: "b" }),
        ),
      );
      await Promise.all([
        ...users.map((_, i) => side.call("setDisabled", { name: `user${i}`, disabled: true }, cli)),
        ...extra.map((session) => h.call("logout", { token: session.token })),
      ]);
      await h.service.pollStanding();
      const rows = await outbox();
      await announced(rows.map((row) => row.seq));
      // Positions are contiguous (no position handed out twice or skipped), and every row was announced.
      expect(rows.map((row) => row.seq)).toEqual(rows.map((_, i) => i + 1));
      expect(new Set(h.events.map((event) => event.seq))).toEqual(new Set(rows.map((row) => row.seq)));
      const ended = new Set(h.events.flatMap((event) => event.credentialIds));
      for (const [i, u] of users.entries()) {
        expect(ended.has(u.sessionId)).toBe(true);
        expect(ended.has(extra[i]!.session.id)).toBe(true);
      }
    } finally {
      await side.close();
    }
  });

  it("prunes outbox rows older than the retention, keeping the positions growing", async () => {
    await h.close();
    h = await startHarness(target, { standingRetentionMs: 60_000 });
    const admin = await h.setupAdmin();
    await h.call("revokeAllSessions", {}, admin.as);
    h.clock.advance(60_000);
    await h.service.prune();
    expect(await outbox()).toEqual([]);
    await h.call("login", { name: adminName, password: adminPassword, address: "a" });
    await h.call("revokeAllSessions", {}, admin.as);
    expect((await outbox()).map((row) => row.seq)).toEqual([2]);
  });
});
