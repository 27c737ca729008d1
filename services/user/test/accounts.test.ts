// Accounts through the bus, on SQLite and PostgreSQL: first-run admin, argon2id, admin functions, roles, disabling.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { dbTargets } from "@soundmesh/test-kit";
import { adminName, adminPassword, prepareUserDb, startHarness, type Harness } from "./harness";

const targets = await dbTargets({ prepare: prepareUserDb });

describe.each(targets)("user accounts on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  describe("first run", () => {
    it("needs setup until the first admin exists, then refuses another first admin with SETUP_DONE", async () => {
      await expect(h.call("setupStatus", {})).resolves.toEqual({ needsSetup: true });
      const admin = await h.call("createFirstAdmin", { name: adminName, password: adminPassword });
      expect(admin).toMatchObject({
        name: adminName,
        role: "admin",
        disabled: false,
        createdAt: h.clock.now(),
      });
      await expect(h.call("setupStatus", {})).resolves.toEqual({ needsSetup: false });
      expect((await h.failure("createFirstAdmin", { name: "second", password: adminPassword })).code).toBe(
        "SETUP_DONE",
      );
    });

    it("lets only one of two simultaneous first-admin requests succeed", async () => {
      const outcomes = await Promise.allSettled([
        h.call("createFirstAdmin", { name: "first", password: adminPassword }),
        h.call("createFirstAdmin", { name: "second", password: adminPassword }),
        h.call("createFirstAdmin", { name: "third", password: adminPassword }),
      ]);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      for (const outcome of outcomes.filter((o) => o.status === "rejected")) {
        expect(outcome.reason).toMatchObject({ code: "SETUP_DONE" });
      }
      expect((await h.store.listUsers()).filter((u) => u.role === "admin")).toHaveLength(1);
    });

    it("stores the password as an argon2id hash with the configured cost, never in clear", async () => {
      const admin = await h.call("createFirstAdmin", { name: adminName, password: adminPassword });
      const rows = await h.db.kysely.selectFrom("user_accounts").selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(adminPassword);
      const stored = await h.store.findUserById(admin.id);
      expect(stored?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    });
  });

  describe("administration", () => {
    it("lets an admin create users and list them by name; names are unique regardless of case", async () => {
      const admin = await h.setupAdmin();
      const alice = await h.call("createUser", { name: "Alice", password: "alice password" }, admin.as);
      expect(alice).toMatchObject({ name: "Alice", role: "user", disabled: false });
      const bob = await h.call(
        "createUser",
        { name: "bob", password: "bob password", role: "admin" },
        admin.as,
      );
      expect(bob.role).toBe("admin");
      expect(
        (await h.failure("createUser", { name: "ALICE", password: "other password" }, admin.as)).code,
      ).toBe("ALREADY_EXISTS");
      const users = await h.call("listUsers", {}, admin.as);
      expect(users.map((u) => u.name)).toEqual(["Alice", "bob", adminName]);
      // Sign-in uses the same case-insensitive name.
      await expect(
        h.call("login", { name: "alice", password: "alice password", address: "a" }),
      ).resolves.toMatchObject({
        user: { id: alice.id },
      });
    });

    it("refuses every admin function to a non-admin with FORBIDDEN, even when the caller claims the admin role", async () => {
      await h.setupAdmin();
      const alice = await h.addUser("alice");
      const asUser = alice.as;
      const claimsAdmin = { userId: alice.id, role: "admin" as const };
      for (const as of [asUser, claimsAdmin, {}]) {
        expect(
          (await h.failure("createUser", { name: "mallory", password: "mallory password" }, as)).code,
        ).toBe("FORBIDDEN");
        expect((await h.failure("listUsers", {}, as)).code).toBe("FORBIDDEN");
        expect((await h.failure("setDisabled", { name: adminName, disabled: true }, as)).code).toBe(
          "FORBIDDEN",
        );
        expect((await h.failure("setRole", { name: "alice", role: "admin" }, as)).code).toBe("FORBIDDEN");
      }
      expect((await h.store.listUsers()).map((u) => u.name)).toEqual(["alice", adminName]);
    });

    it("serves the operator's CLI, which calls with the admin role and no user", async () => {
      await h.setupAdmin();
      const cli = { role: "admin" as const };
      await expect(
        h.call("createUser", { name: "carol", password: "carol password" }, cli),
      ).resolves.toMatchObject({
        name: "carol",
      });
      await expect(h.call("listUsers", {}, cli)).resolves.toHaveLength(2);
    });

    it("answers NOT_FOUND for changes to a user who does not exist", async () => {
      const admin = await h.setupAdmin();
      expect((await h.failure("setDisabled", { name: "nobody", disabled: true }, admin.as)).code).toBe(
        "NOT_FOUND",
      );
      expect((await h.failure("setRole", { name: "nobody", role: "admin" }, admin.as)).code).toBe(
        "NOT_FOUND",
      );
      expect((await h.failure("setPassword", { name: "nobody", password: "whatever long" })).code).toBe(
        "NOT_FOUND",
      );
    });

    it("keeps the last enabled admin: disabling or demoting them is a CONFLICT, with a second admin it works", async () => {
      const admin = await h.setupAdmin();
      expect((await h.failure("setDisabled", { name: adminName, disabled: true }, admin.as)).code).toBe(
        "CONFLICT",
      );
      expect((await h.failure("setRole", { name: adminName, role: "user" }, admin.as)).code).toBe("CONFLICT");
      const second = await h.addUser("deputy", "deputy password", "admin");
      // A disabled admin does not count as one that remains.
      await h.call("setDisabled", { name: "deputy", disabled: true }, admin.as);
      expect((await h.failure("setDisabled", { name: adminName, disabled: true }, admin.as)).code).toBe(
        "CONFLICT",
      );
      await h.call("setDisabled", { name: "deputy", disabled: false }, admin.as);
      const deputy = await h.call("login", { name: "deputy", password: "deputy password", address: "a" });
      await expect(
        h.call("setDisabled", { name: adminName, disabled: true }, { userId: second.id, role: "admin" }),
      ).resolves.toMatchObject({ name: adminName, disabled: true });
      expect(deputy.user.role).toBe("admin");
    });

    it("never lets two admins disable each other at the same time", async () => {
      const root = await h.setupAdmin();
      const deputy = await h.addUser("deputy", "deputy password", "admin");
      const outcomes = await Promise.allSettled([
        h.call("setDisabled", { name: "deputy", disabled: true }, root.as),
        h.call("setDisabled", { name: adminName, disabled: true }, deputy.as),
      ]);
      const enabledAdmins = (await h.store.listUsers()).filter((u) => u.role === "admin" && !u.disabled);
      expect(enabledAdmins).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    });

    it("promotes and demotes users; a role change ends the user's sessions and the old role no longer counts", async () => {
      const admin = await h.setupAdmin();
      const alice = await h.addUser("alice");
      const promoted = await h.call("setRole", { name: "alice", role: "admin" }, admin.as);
      expect(promoted.role).toBe("admin");
      await h.revoked((e) => e.credentialIds.includes(alice.sessionId));
      expect((await h.failure("authenticate", { token: alice.token })).code).toBe("UNAUTHENTICATED");
      await expect(h.call("listUsers", {}, { userId: alice.id, role: "admin" })).resolves.toHaveLength(2);
      await h.call("setRole", { name: "alice", role: "user" }, admin.as);
      // A socket that still remembers the admin role is refused by the service itself.
      expect((await h.failure("listUsers", {}, { userId: alice.id, role: "admin" })).code).toBe("FORBIDDEN");
      // Setting the role a user already has changes nothing and ends nothing.
      const before = h.events.length;
      await expect(h.call("setRole", { name: "alice", role: "user" }, admin.as)).resolves.toMatchObject({
        role: "user",
      });
      expect(h.events.length).toBe(before);
    });
  });

  describe("disabled accounts", () => {
    it("ends every session and API token of a disabled user, refuses their sign-in, and lets them back when enabled", async () => {
      const admin = await h.setupAdmin();
      const alice = await h.addUser("alice", "alice password");
      const apiToken = await h.call("createApiToken", { label: "script" }, alice.as);
      const disabled = await h.call("setDisabled", { name: "alice", disabled: true }, admin.as);
      expect(disabled).toMatchObject({ name: "alice", disabled: true });
      const event = await h.revoked((e) => e.userId === alice.id);
      expect(event.credentialIds.sort()).toEqual([alice.sessionId, apiToken.id].sort());
      expect((await h.failure("authenticate", { token: alice.token })).code).toBe("UNAUTHENTICATED");
      expect((await h.failure("authenticate", { token: apiToken.token })).code).toBe("UNAUTHENTICATED");
      expect(
        (await h.failure("login", { name: "alice", password: "alice password", address: "a" })).code,
      ).toBe("ACCOUNT_DISABLED");
      // A wrong password does not reveal that the account is disabled.
      expect(
        (await h.failure("login", { name: "alice", password: "wrong password", address: "a" })).code,
      ).toBe("INVALID_CREDENTIALS");
      expect((await h.failure("me", {}, alice.as)).code).toBe("ACCOUNT_DISABLED");
      await h.call("setDisabled", { name: "alice", disabled: false }, admin.as);
      await expect(
        h.call("login", { name: "alice", password: "alice password", address: "a" }),
      ).resolves.toMatchObject({
        user: { disabled: false },
      });
    });

    it("refuses a credential that outlived its account's disabling with ACCOUNT_DISABLED", async () => {
      await h.setupAdmin();
      const alice = await h.addUser("alice");
      // Disabled behind the service's back, without revoking anything.
      await h.store.changeUser(alice.id, { disabled: true }, [], {
        kind: "disabled",
        origin: "test",
        at: h.clock.now(),
      });
      expect((await h.failure("authenticate", { token: alice.token })).code).toBe("ACCOUNT_DISABLED");
    });
  });

  describe("operator password reset", () => {
    it("sets a new password from the CLI and ends the user's sessions and API tokens", async () => {
      await h.setupAdmin();
      const alice = await h.addUser("alice", "alice password");
      const api = await h.call("createApiToken", { label: "script" }, alice.as);
      await expect(h.call("setPassword", { name: "alice", password: "brand new password" })).resolves.toEqual(
        { ok: true },
      );
      const event = await h.revoked((e) => e.credentialIds.includes(alice.sessionId));
      expect(event).toMatchObject({ kind: "password-set", userId: alice.id });
      expect(event.credentialIds.sort()).toEqual([alice.sessionId, api.id].sort());
      expect((await h.failure("authenticate", { token: alice.token })).code).toBe("UNAUTHENTICATED");
      expect((await h.failure("authenticate", { token: api.token })).code).toBe("UNAUTHENTICATED");
      expect(
        (await h.failure("login", { name: "alice", password: "alice password", address: "a" })).code,
      ).toBe("INVALID_CREDENTIALS");
      await expect(
        h.call("login", { name: "alice", password: "brand new password", address: "a" }),
      ).resolves.toBeDefined();
    });
  });

  describe("me", () => {
    it("returns the signed-in user, and UNAUTHENTICATED without one", async () => {
      const admin = await h.setupAdmin();
      await expect(h.call("me", {}, admin.as)).resolves.toMatchObject({
        id: admin.id,
        name: adminName,
        role: "admin",
      });
      expect((await h.failure("me", {})).code).toBe("UNAUTHENTICATED");
      expect((await h.failure("me", {}, { userId: "no-such-user", role: "user" })).code).toBe(
        "UNAUTHENTICATED",
      );
    });
  });
});
