// Sign-in throttling through the bus, on SQLite and PostgreSQL, driven by the injected clock: back-off per account
// and address and per address (never per account alone), reset on success, forgetting, concurrent guesses, and
// the unknown-name path.
import argon2 from "argon2";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { delayAfterFailures, resolveUserConfig } from "@soundmesh/service-user";
import { dbTargets } from "@soundmesh/test-kit";
import { adminName, adminPassword, prepareUserDb, startHarness, type Harness } from "./harness";

const targets = await dbTargets({ prepare: prepareUserDb });
const minuteMs = 60_000;

describe("the back-off schedule", () => {
  it("waits nothing within the budget, then 1 s, 2 s, 4 s … capped at 15 minutes", () => {
    const config = resolveUserConfig().loginThrottle;
    const delays = [0, 4, 5, 6, 7, 8, 14, 15, 50, 10_000].map((failures) =>
      delayAfterFailures(failures, 5, config),
    );
    expect(delays).toEqual([0, 0, 1_000, 2_000, 4_000, 8_000, 512_000, 900_000, 900_000, 900_000]);
  });
});

describe.each(targets)("sign-in throttling on $name", (target) => {
  let h: Harness;
  const wrong = (name = adminName, address = "198.51.100.7") =>
    h.failure("login", { name, password: "wrong password", address });
  const right = (address = "198.51.100.7") =>
    h.call("login", { name: adminName, password: adminPassword, address });
  beforeEach(async () => {
    h = await startHarness(target);
    await h.call("createFirstAdmin", { name: adminName, password: adminPassword });
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  it("after 5 failures makes each attempt wait 1 s, 2 s, 4 s, refusing even the right password meanwhile", async () => {
    for (let i = 0; i < 5; i++) expect((await wrong()).code).toBe("INVALID_CREDENTIALS");
    const throttled = await h.failure("login", {
      name: adminName,
      password: adminPassword,
      address: "198.51.100.7",
    });
    expect(throttled.code).toBe("LOGIN_THROTTLED");
    expect(throttled.details).toEqual({ retryAfterMs: 1_000 });
    h.clock.advance(999);
    expect((await wrong()).details).toEqual({ retryAfterMs: 1 });
    h.clock.advance(1);
    expect((await wrong()).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong()).details).toEqual({ retryAfterMs: 2_000 });
    h.clock.advance(2_000);
    expect((await wrong()).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong()).details).toEqual({ retryAfterMs: 4_000 });
    // Throttled attempts are not counted, so hammering does not lengthen the wait.
    for (let i = 0; i < 10; i++) expect((await wrong()).code).toBe("LOGIN_THROTTLED");
    h.clock.advance(4_000);
    expect((await wrong()).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong()).details).toEqual({ retryAfterMs: 8_000 });
  });

  it("caps the wait at 15 minutes", async () => {
    for (let i = 0; i < 5; i++) await wrong();
    for (let round = 0; round < 12; round++) {
      const { details } = await wrong();
      const { retryAfterMs } = details as { retryAfterMs: number };
      expect(retryAfterMs).toBe(Math.min(1_000 * 2 ** round, 15 * minuteMs));
      h.clock.advance(retryAfterMs);
      expect((await wrong()).code).toBe("INVALID_CREDENTIALS");
    }
  });

  it("resets the account's count after a successful sign-in", async () => {
    for (let i = 0; i < 6; i++) {
      h.clock.advance(1);
      await wrong();
    }
    h.clock.advance(2_000);
    await expect(right()).resolves.toMatchObject({ user: { name: adminName } });
    for (let i = 0; i < 5; i++) expect((await wrong()).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong()).details).toEqual({ retryAfterMs: 1_000 });
  });

  it("lets the right password in at once from another address after 40 failures from one, which stays throttled", async () => {
    const guesser = "203.0.113.9";
    let failures = 0;
    while (failures < 40) {
      const error = await wrong(adminName, guesser);
      if (error.code === "INVALID_CREDENTIALS") failures++;
      else h.clock.advance((error.details as { retryAfterMs: number }).retryAfterMs);
    }
    await expect(right("192.0.2.44")).resolves.toMatchObject({ user: { name: adminName } });
    // The owner's success elsewhere does not lift the guesser's wait, not even for the right password.
    const throttled = await h.failure("login", {
      name: adminName,
      password: adminPassword,
      address: guesser,
    });
    expect(throttled.code).toBe("LOGIN_THROTTLED");
    expect((throttled.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(60_000);
  });

  it("throttles one address on one account after 5 failures, the same account from elsewhere not at all", async () => {
    for (let i = 0; i < 5; i++)
      expect((await wrong(adminName, "203.0.113.1")).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong(adminName, "203.0.113.1")).code).toBe("LOGIN_THROTTLED");
    // Another address starts with its own budget of 5, and the address spreading guesses over names its 20.
    for (let i = 0; i < 5; i++)
      expect((await wrong(adminName, "203.0.113.2")).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong(adminName, "203.0.113.2")).code).toBe("LOGIN_THROTTLED");
    expect((await wrong("someone-else", "203.0.113.1")).code).toBe("INVALID_CREDENTIALS");
  });

  it("does not let guesses at the old password through a stolen session lock the owner's sign-in", async () => {
    const admin = await right();
    const as = { userId: admin.user.id, role: admin.user.role };
    for (let i = 0; i < 8; i++)
      await h.failure("changePassword", { oldPassword: "guess", newPassword: "new password here" }, as);
    await expect(right()).resolves.toBeDefined();
  });

  it("gives an address a budget of 20 failures across names, then throttles only that address", async () => {
    for (let i = 0; i < 20; i++)
      expect((await wrong(`user${i}`, "192.0.2.1")).code).toBe("INVALID_CREDENTIALS");
    const throttled = await wrong("someone-else", "192.0.2.1");
    expect(throttled).toMatchObject({ code: "LOGIN_THROTTLED", details: { retryAfterMs: 1_000 } });
    // The right password from that address waits too; from another address it works.
    expect(
      (await h.failure("login", { name: adminName, password: adminPassword, address: "192.0.2.1" })).code,
    ).toBe("LOGIN_THROTTLED");
    await expect(right("192.0.2.2")).resolves.toBeDefined();
    // A success elsewhere does not clear the address: sprayers cannot reset it with an account of their own.
    h.clock.advance(1_000);
    await expect(right("192.0.2.1")).resolves.toBeDefined();
    expect((await wrong("another", "192.0.2.1")).code).toBe("LOGIN_THROTTLED");
  });

  it("throttles names that do not exist exactly like real ones, so throttling reveals nothing", async () => {
    for (let i = 0; i < 5; i++) expect((await wrong("ghost")).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong("ghost")).details).toEqual({ retryAfterMs: 1_000 });
    expect((await wrong("GHOST")).code).toBe("LOGIN_THROTTLED");
  });

  it("counts concurrent guesses before checking them, so a burst gets no more than the budget", async () => {
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => wrong()));
    const codes = outcomes.map((error) => error.code).sort();
    expect(codes.filter((code) => code === "INVALID_CREDENTIALS")).toHaveLength(5);
    expect(codes.filter((code) => code === "LOGIN_THROTTLED")).toHaveLength(7);
  });

  it("forgets failures after a day without any", async () => {
    for (let i = 0; i < 7; i++) {
      h.clock.advance(10_000);
      await wrong();
    }
    h.clock.advance(24 * 3600_000);
    for (let i = 0; i < 5; i++) expect((await wrong()).code).toBe("INVALID_CREDENTIALS");
    expect((await wrong()).details).toEqual({ retryAfterMs: 1_000 });
  });

  it("deletes forgotten counters when pruning", async () => {
    await wrong();
    const count = async () =>
      (await h.db.kysely.selectFrom("user_login_failures").selectAll().execute()).length;
    expect(await count()).toBe(2); // the account and the address
    await h.service.prune();
    expect(await count()).toBe(2);
    h.clock.advance(24 * 3600_000);
    await h.service.prune();
    expect(await count()).toBe(0);
  });

  it("throttles guesses at the old password through a signed-in session too", async () => {
    const admin = await right();
    const as = { userId: admin.user.id, role: admin.user.role };
    for (let i = 0; i < 5; i++) {
      expect(
        (await h.failure("changePassword", { oldPassword: "guess", newPassword: "new password here" }, as))
          .code,
      ).toBe("INVALID_CREDENTIALS");
    }
    const throttled = await h.failure(
      "changePassword",
      { oldPassword: adminPassword, newPassword: "new password here" },
      as,
    );
    expect(throttled).toMatchObject({ code: "LOGIN_THROTTLED", details: { retryAfterMs: 1_000 } });
    h.clock.advance(1_000);
    await expect(
      h.call("changePassword", { oldPassword: adminPassword, newPassword: "new password here" }, as),
    ).resolves.toEqual({
      ok: true,
    });
  });

  it("spends a password verification on a name that does not exist, so timing does not reveal which names do", async () => {
    // Counted, not timed: a wall-clock comparison is noise on a loaded machine. Each failed sign-in must run
    // exactly one argon2id verification against a hash made with the configured cost, known name or not.
    const verify = vi.spyOn(argon2, "verify");
    try {
      const parametersUsed: string[] = [];
      for (const name of [adminName, "nobody"]) {
        verify.mockClear();
        expect((await wrong(name, `192.0.2.${name.length}`)).code).toBe("INVALID_CREDENTIALS");
        expect(verify).toHaveBeenCalledTimes(1);
        const [hash] = verify.mock.calls[0]!;
        // "$argon2id$v=19$m=…,t=…,p=…$salt$hash": the same cost for the real hash and the dummy one.
        parametersUsed.push(hash.split("$").slice(1, 4).join("$"));
        await expect(verify.mock.results[0]!.value).resolves.toBe(false);
      }
      expect(parametersUsed[0]).toMatch(/^argon2id\$v=19\$m=\d+,t=\d+,p=\d+$/);
      expect(parametersUsed[1]).toBe(parametersUsed[0]);
    } finally {
      verify.mockRestore();
    }
  });
});
