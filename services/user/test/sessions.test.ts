// Sign-in, sessions and API tokens through the bus, on SQLite and PostgreSQL: hashing at rest, expiry and renewal,
// logout and revoke-all, password changes, API token lifecycle.
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiTokenPrefix } from "@soundmesh/service-user";
import { dbTargets } from "@soundmesh/test-kit";
import { adminName, adminPassword, prepareUserDb, startHarness, type Harness } from "./harness";

const targets = await dbTargets({ prepare: prepareUserDb });
const dayMs = 24 * 3600_000;
const ttlMs = 30 * dayMs;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe.each(targets)("sessions and tokens on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  describe("sign-in", () => {
    it("returns a 256-bit token that authenticates, with a session expiring after the default 30 days", async () => {
      await h.call("createFirstAdmin", { name: adminName, password: adminPassword });
      const { token, session, user } = await h.call("login", {
        name: adminName,
        password: adminPassword,
        address: "10.0.0.1",
      });
      expect(Buffer.from(token, "base64url")).toHaveLength(32);
      expect(session).toEqual({
        id: session.id,
        userId: user.id,
        createdAt: h.clock.now(),
        expiresAt: h.clock.now() + ttlMs,
      });
      await expect(h.call("authenticate", { token })).resolves.toEqual({
        user,
        sessionId: session.id,
        kind: "session",
        expiresAt: session.expiresAt,
        renewed: false,
      });
    });

    it("answers INVALID_CREDENTIALS for a wrong password and for a name that does not exist", async () => {
      await h.setupAdmin();
      expect(
        (await h.failure("login", { name: adminName, password: "not the password", address: "a" })).code,
      ).toBe("INVALID_CREDENTIALS");
      expect((await h.failure("login", { name: "nobody", password: adminPassword, address: "a" })).code).toBe(
        "INVALID_CREDENTIALS",
      );
      expect(
        (await h.failure("login", { name: "no such name with spaces!", password: "x", address: "a" })).code,
      ).toBe("INVALID_CREDENTIALS");
    });

    it("keeps only SHA-256 hashes of session and API tokens: the raw tokens appear nowhere in the table", async () => {
      const admin = await h.setupAdmin();
      const api = await h.call("createApiToken", { label: "backup script" }, admin.as);
      const rows = await h.db.kysely.selectFrom("user_credentials").selectAll().execute();
      const dump = JSON.stringify(rows);
      for (const token of [admin.token, api.token]) {
        expect(dump).not.toContain(token);
        expect(dump).not.toContain(token.slice(apiTokenPrefix.length, apiTokenPrefix.length + 20));
        expect(rows.map((row) => (row as { token_hash: string }).token_hash)).toContain(sha256(token));
      }
    });

    it("rehashes a password made with other argon2 parameters at the next sign-in", async () => {
      await h.setupAdmin();
      const before = (await h.store.findUserByName(adminName))!.passwordHash;
      await h.close();
      h = await startHarness(target, { argon2: { memoryCost: 2048, timeCost: 1 } });
      // The new harness has a fresh database: put the old hash back in place.
      await h.call("createFirstAdmin", { name: adminName, password: adminPassword });
      const admin = (await h.store.findUserByName(adminName))!;
      await h.store.updatePasswordHash(admin.id, before);
      await h.call("login", { name: adminName, password: adminPassword, address: "a" });
      const after = (await h.store.findUserByName(adminName))!.passwordHash;
      expect(before).toMatch(/\$m=1024,t=1,p=1\$/);
      expect(after).toMatch(/\$m=2048,t=1,p=1\$/);
      await expect(
        h.call("login", { name: adminName, password: adminPassword, address: "a" }),
      ).resolves.toBeDefined();
    });
  });

  describe("session lifetime", () => {
    it("answers SESSION_EXPIRED once the 30-day lifetime is over, UNAUTHENTICATED for unknown tokens", async () => {
      const admin = await h.setupAdmin();
      h.clock.advance(ttlMs);
      expect((await h.failure("authenticate", { token: admin.token })).code).toBe("SESSION_EXPIRED");
      expect((await h.failure("authenticate", { token: "x".repeat(43) })).code).toBe("UNAUTHENTICATED");
    });

    it("renews a session used in the second half of its life, and lets an unused one expire", async () => {
      await h.close();
      h = await startHarness(target, { sessionTtlMs: 60_000 });
      const admin = await h.setupAdmin();
      const other = await h.call("login", { name: adminName, password: adminPassword, address: "a" });
      h.clock.advance(20_000);
      // First half: no renewal, and the caller hears the unchanged expiry.
      await expect(h.call("authenticate", { token: admin.token })).resolves.toMatchObject({
        expiresAt: h.clock.now() + 40_000,
        renewed: false,
      });
      expect((await h.store.findCredential(sha256(admin.token)))!.credential.expiresAt).toBe(
        h.clock.now() + 40_000,
      );
      h.clock.advance(20_000);
      // Second half: a full lifetime again, and the caller is told so (the access point re-sets the cookie).
      await expect(h.call("authenticate", { token: admin.token })).resolves.toMatchObject({
        expiresAt: h.clock.now() + 60_000,
        renewed: true,
      });
      expect((await h.store.findCredential(sha256(admin.token)))!.credential.expiresAt).toBe(
        h.clock.now() + 60_000,
      );
      h.clock.advance(50_000);
      await expect(h.call("authenticate", { token: admin.token })).resolves.toMatchObject({
        sessionId: admin.sessionId,
      });
      expect((await h.failure("authenticate", { token: other.token })).code).toBe("SESSION_EXPIRED");
    });

    it("prunes expired sessions but keeps live ones and API tokens", async () => {
      await h.close();
      h = await startHarness(target, { sessionTtlMs: 60_000 });
      const admin = await h.setupAdmin();
      const api = await h.call("createApiToken", { label: "cron" }, admin.as);
      h.clock.advance(59_000);
      const late = await h.call("login", { name: adminName, password: adminPassword, address: "a" });
      h.clock.advance(1_000);
      await h.service.prune();
      const left: Array<{ id: string }> = await h.db.kysely
        .selectFrom("user_credentials")
        .select("id")
        .execute();
      expect(left.map((row) => row.id).sort()).toEqual([late.session.id, api.id].sort());
      expect((await h.failure("authenticate", { token: admin.token })).code).toBe("UNAUTHENTICATED");
    });
  });

  describe("ending sessions", () => {
    it("logs out one session, announces it, and leaves the user's other sessions alone", async () => {
      const admin = await h.setupAdmin();
      const second = await h.call("login", { name: adminName, password: adminPassword, address: "a" });
      await expect(h.call("logout", { token: admin.token })).resolves.toEqual({ ok: true });
      await expect(h.revoked((e) => e.credentialIds.includes(admin.sessionId))).resolves.toEqual({
        seq: expect.any(Number) as number,
        userId: admin.id,
        kind: "logout",
        credentialIds: [admin.sessionId],
        user: { role: "admin", disabled: false },
      });
      expect((await h.failure("authenticate", { token: admin.token })).code).toBe("UNAUTHENTICATED");
      await expect(h.call("authenticate", { token: second.token })).resolves.toMatchObject({
        sessionId: second.session.id,
      });
      // Logging out twice, or with a token nobody knows, is not an error.
      await expect(h.call("logout", { token: admin.token })).resolves.toEqual({ ok: true });
      await expect(h.call("logout", { token: "y".repeat(43) })).resolves.toEqual({ ok: true });
    });

    it("signs out everywhere: every session and API token of the caller ends, other users' stay", async () => {
      const admin = await h.setupAdmin();
      const second = await h.call("login", { name: adminName, password: adminPassword, address: "a" });
      const api = await h.call("createApiToken", { label: "cli" }, admin.as);
      const alice = await h.addUser("alice");
      const aliceApi = await h.call("createApiToken", { label: "hers" }, alice.as);
      await expect(h.call("revokeAllSessions", {}, admin.as)).resolves.toEqual({
        revoked: 2,
        revokedApiTokens: 1,
      });
      const event = await h.revoked((e) => e.userId === admin.id);
      expect(event.kind).toBe("signed-out-everywhere");
      expect(event.credentialIds.sort()).toEqual([admin.sessionId, second.session.id, api.id].sort());
      for (const token of [admin.token, second.token, api.token]) {
        expect((await h.failure("authenticate", { token })).code).toBe("UNAUTHENTICATED");
      }
      for (const token of [alice.token, aliceApi.token]) {
        await expect(h.call("authenticate", { token })).resolves.toMatchObject({ user: { name: "alice" } });
      }
      expect((await h.failure("revokeAllSessions", {})).code).toBe("UNAUTHENTICATED");
    });

    it("keeps the API tokens the caller chooses, and only the caller's own tokens", async () => {
      const admin = await h.setupAdmin();
      const [kept, dropped] = [
        await h.call("createApiToken", { label: "backup" }, admin.as),
        await h.call("createApiToken", { label: "old laptop" }, admin.as),
      ];
      const alice = await h.addUser("alice");
      const aliceApi = await h.call("createApiToken", { label: "hers" }, alice.as);
      const other = await h.call("login", { name: adminName, password: adminPassword, address: "a" });
      // A session id or someone else's token id in the list is not kept: "keep" means API tokens of one's own.
      const keepApiTokenIds = [kept.id, other.session.id, aliceApi.id, "no-such-id"];
      await expect(h.call("revokeAllSessions", { keepApiTokenIds }, admin.as)).resolves.toEqual({
        revoked: 2,
        revokedApiTokens: 1,
      });
      await expect(h.call("authenticate", { token: kept.token })).resolves.toMatchObject({ kind: "api" });
      for (const token of [dropped.token, other.token, admin.token])
        expect((await h.failure("authenticate", { token })).code).toBe("UNAUTHENTICATED");
      await expect(h.call("authenticate", { token: aliceApi.token })).resolves.toBeDefined();
      // Bad input: too many ids, or ids too long.
      const keptAs = { userId: admin.id, role: "admin" as const };
      const tooMany = Array.from({ length: 1001 }, (_, i) => `id${i}`);
      for (const bad of [tooMany, ["x".repeat(101)], "not a list"]) {
        const params = { keepApiTokenIds: bad } as unknown as { keepApiTokenIds: string[] };
        expect((await h.failure("revokeAllSessions", params, keptAs)).code).toBe("VALIDATION_FAILED");
      }
    });
  });

  describe("password change", () => {
    it("changes the password with the old one, ends the other sessions and keeps the caller's", async () => {
      const admin = await h.setupAdmin();
      const laptop = await h.call("login", { name: adminName, password: adminPassword, address: "a" });
      const phone = await h.call("login", { name: adminName, password: adminPassword, address: "b" });
      const api = await h.call("createApiToken", { label: "sync" }, admin.as);
      const kept = await h.call("createApiToken", { label: "backup" }, admin.as);
      await expect(
        h.call(
          "changePassword",
          {
            oldPassword: adminPassword,
            newPassword: "a much better password",
            keepSessionId: admin.sessionId,
            keepApiTokenIds: [kept.id],
          },
          admin.as,
        ),
      ).resolves.toEqual({ ok: true });
      const event = await h.revoked((e) => e.userId === admin.id);
      expect(event.kind).toBe("password-changed");
      expect(event.credentialIds.sort()).toEqual([laptop.session.id, phone.session.id, api.id].sort());
      await expect(h.call("authenticate", { token: admin.token })).resolves.toMatchObject({
        sessionId: admin.sessionId,
      });
      // API tokens end with the old password, except the ones the user chose to keep.
      expect((await h.failure("authenticate", { token: api.token })).code).toBe("UNAUTHENTICATED");
      await expect(h.call("authenticate", { token: kept.token })).resolves.toMatchObject({ kind: "api" });
      expect((await h.failure("authenticate", { token: laptop.token })).code).toBe("UNAUTHENTICATED");
      expect(
        (await h.failure("login", { name: adminName, password: adminPassword, address: "a" })).code,
      ).toBe("INVALID_CREDENTIALS");
      await expect(
        h.call("login", { name: adminName, password: "a much better password", address: "a" }),
      ).resolves.toBeDefined();
    });

    it("ends every session when the caller names none, and cannot be used to keep someone else's", async () => {
      const admin = await h.setupAdmin();
      const alice = await h.addUser("alice", "alice password");
      await h.call(
        "changePassword",
        {
          oldPassword: "alice password",
          newPassword: "alice's new password",
          keepSessionId: admin.sessionId,
        },
        alice.as,
      );
      await h.revoked((e) => e.userId === alice.id);
      expect((await h.failure("authenticate", { token: alice.token })).code).toBe("UNAUTHENTICATED");
      await expect(h.call("authenticate", { token: admin.token })).resolves.toBeDefined();
    });

    it("refuses a wrong old password with INVALID_CREDENTIALS and changes nothing", async () => {
      const admin = await h.setupAdmin();
      expect(
        (
          await h.failure(
            "changePassword",
            { oldPassword: "wrong password", newPassword: "whatever you like" },
            admin.as,
          )
        ).code,
      ).toBe("INVALID_CREDENTIALS");
      await expect(h.call("authenticate", { token: admin.token })).resolves.toBeDefined();
      await expect(
        h.call("login", { name: adminName, password: adminPassword, address: "a" }),
      ).resolves.toBeDefined();
      expect(
        (await h.failure("changePassword", { oldPassword: adminPassword, newPassword: "whatever you like" }))
          .code,
      ).toBe("UNAUTHENTICATED");
    });
  });

  describe("API tokens", () => {
    it("creates recognisable tokens that authenticate, lists them with lastUsedAt, and revokes them", async () => {
      const admin = await h.setupAdmin();
      const created = await h.call("createApiToken", { label: "  home server  " }, admin.as);
      expect(created.token.startsWith(apiTokenPrefix)).toBe(true);
      expect(Buffer.from(created.token.slice(apiTokenPrefix.length), "base64url")).toHaveLength(32);
      expect(created.label).toBe("home server");
      const listed = { id: created.id, label: "home server", createdAt: h.clock.now(), lastUsedAt: null };
      await expect(h.call("listApiTokens", {}, admin.as)).resolves.toEqual([{ ...listed, expiresAt: null }]);
      expect(created).toEqual({ ...listed, expiresAt: null, token: created.token });
      h.clock.advance(5_000);
      await expect(h.call("authenticate", { token: created.token })).resolves.toMatchObject({
        sessionId: created.id,
        kind: "api",
        user: { id: admin.id },
      });
      const usedAt = h.clock.now();
      // Another use within a minute does not cost a write; after it, lastUsedAt moves.
      h.clock.advance(30_000);
      await h.call("authenticate", { token: created.token });
      expect((await h.call("listApiTokens", {}, admin.as))[0]!.lastUsedAt).toBe(usedAt);
      h.clock.advance(60_000);
      await h.call("authenticate", { token: created.token });
      expect((await h.call("listApiTokens", {}, admin.as))[0]!.lastUsedAt).toBe(h.clock.now());
      // API tokens do not expire with the session lifetime, and logout does not end them.
      h.clock.advance(365 * dayMs);
      await h.call("logout", { token: created.token });
      await expect(h.call("authenticate", { token: created.token })).resolves.toMatchObject({ kind: "api" });
      await expect(h.call("revokeApiToken", { id: created.id }, admin.as)).resolves.toEqual({ ok: true });
      await h.revoked((e) => e.credentialIds.includes(created.id));
      expect((await h.failure("authenticate", { token: created.token })).code).toBe("UNAUTHENTICATED");
      await expect(h.call("listApiTokens", {}, admin.as)).resolves.toEqual([]);
    });

    it("lets nobody list or revoke another user's tokens", async () => {
      const admin = await h.setupAdmin();
      const alice = await h.addUser("alice");
      const token = await h.call("createApiToken", { label: "mine" }, admin.as);
      await expect(h.call("listApiTokens", {}, alice.as)).resolves.toEqual([]);
      expect((await h.failure("revokeApiToken", { id: token.id }, alice.as)).code).toBe("NOT_FOUND");
      expect((await h.failure("revokeApiToken", { id: "no-such-token" }, admin.as)).code).toBe("NOT_FOUND");
      // A login session id is not an API token id.
      expect((await h.failure("revokeApiToken", { id: admin.sessionId }, admin.as)).code).toBe("NOT_FOUND");
      await expect(h.call("authenticate", { token: token.token })).resolves.toBeDefined();
      expect((await h.failure("createApiToken", { label: "x" })).code).toBe("UNAUTHENTICATED");
    });

    it("gives a token the expiry asked for: it works until then, never slides, then leaves the list and is pruned", async () => {
      const admin = await h.setupAdmin();
      const created = await h.call("createApiToken", { label: "short", expiresInDays: 7 }, admin.as);
      const expiresAt = h.clock.now() + 7 * dayMs;
      expect(created.expiresAt).toBe(expiresAt);
      h.clock.advance(1);
      const forever = await h.call("createApiToken", { label: "forever" }, admin.as);
      h.clock.advance(7 * dayMs - 2);
      // Used in the last moment of its life, it still ends on time: only sessions slide.
      await expect(h.call("authenticate", { token: created.token })).resolves.toMatchObject({
        kind: "api",
        expiresAt,
        renewed: false,
      });
      expect((await h.call("listApiTokens", {}, admin.as)).map((t) => t.expiresAt)).toEqual([
        expiresAt,
        null,
      ]);
      h.clock.advance(1);
      expect((await h.failure("authenticate", { token: created.token })).code).toBe("SESSION_EXPIRED");
      expect((await h.call("listApiTokens", {}, admin.as)).map((t) => t.id)).toEqual([forever.id]);
      await h.service.prune();
      const event = await h.revoked((e) => e.credentialIds.includes(created.id));
      expect(event).toMatchObject({ kind: "expired", userId: admin.id });
      expect((await h.failure("authenticate", { token: created.token })).code).toBe("UNAUTHENTICATED");
      await expect(h.call("authenticate", { token: forever.token })).resolves.toBeDefined();
    });

    it("refuses an expiry that is not a whole number of days from 1 to 3650", async () => {
      const admin = await h.setupAdmin();
      for (const expiresInDays of [0, -1, 1.5, 3651, "7", null]) {
        const params = { label: "x", expiresInDays } as unknown as { label: string };
        expect((await h.failure("createApiToken", params, admin.as)).code).toBe("VALIDATION_FAILED");
      }
      await expect(
        h.call("createApiToken", { label: "x", expiresInDays: 3650 }, admin.as),
      ).resolves.toBeDefined();
    });

    it("caps the number of API tokens per user with CONFLICT", async () => {
      await h.close();
      h = await startHarness(target, { maxApiTokensPerUser: 2 });
      const admin = await h.setupAdmin();
      await h.call("createApiToken", { label: "one" }, admin.as);
      await h.call("createApiToken", { label: "two" }, admin.as);
      expect((await h.failure("createApiToken", { label: "three" }, admin.as)).code).toBe("CONFLICT");
    });
  });
});
