// Bad parameters for every method are refused with VALIDATION_FAILED before they reach the service, and nothing
// is written; on SQLite and PostgreSQL. (The bus re-checks on the callee's side; packages/bus tests that.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { userContract } from "@soundmesh/protocol";
import { dbTargets } from "@soundmesh/test-kit";
import { adminName, adminPassword, prepareUserDb, startHarness, type Harness } from "./harness";

const targets = await dbTargets({ prepare: prepareUserDb });

/** [method, params, what is wrong] */
const badCalls: Array<[keyof typeof userContract.methods, unknown, string]> = [
  ["createFirstAdmin", { name: "root", password: "short" }, "password under 8 characters"],
  ["createFirstAdmin", { name: "", password: adminPassword }, "empty name"],
  ["createFirstAdmin", { name: "   ", password: adminPassword }, "blank name"],
  ["createFirstAdmin", { name: "a".repeat(65), password: adminPassword }, "name over 64 characters"],
  [
    "createFirstAdmin",
    { name: "robert'); drop table", password: adminPassword },
    "name with forbidden characters",
  ],
  ["createFirstAdmin", { name: "root", password: "p".repeat(1025) }, "password over 1024 characters"],
  ["createFirstAdmin", { name: "root" }, "missing password"],
  ["login", { name: "root", password: adminPassword }, "missing address"],
  ["login", { name: "", password: adminPassword, address: "a" }, "empty name"],
  ["login", { name: "root", password: 12345678, address: "a" }, "password not a string"],
  [
    "login",
    { name: "root", password: adminPassword, address: "a".repeat(101) },
    "address over 100 characters",
  ],
  ["authenticate", { token: "short" }, "token under 16 characters"],
  ["authenticate", { token: "t".repeat(201) }, "token over 200 characters"],
  ["authenticate", {}, "missing token"],
  ["logout", { token: null }, "token null"],
  ["setPassword", { name: "root", password: "short" }, "password under 8 characters"],
  ["changePassword", { oldPassword: adminPassword, newPassword: "short" }, "new password under 8 characters"],
  ["changePassword", { newPassword: "long enough password" }, "missing old password"],
  ["createApiToken", { label: "" }, "empty label"],
  ["createApiToken", { label: "   " }, "blank label"],
  ["createApiToken", { label: "l".repeat(101) }, "label over 100 characters"],
  ["revokeApiToken", { id: 42 }, "id not a string"],
  ["createUser", { name: "carol", password: "carol password", role: "root" }, "unknown role"],
  ["createUser", { name: "carol", password: 1 }, "password not a string"],
  ["setDisabled", { name: "carol", disabled: "yes" }, "disabled not a boolean"],
  ["setDisabled", { disabled: true }, "missing name"],
  ["setRole", { name: "carol", role: "owner" }, "unknown role"],
];

describe.each(targets)("parameter validation on $name", (target) => {
  let h: Harness;
  // One database per target: refused calls write nothing, which each case checks.
  beforeAll(async () => {
    h = await startHarness(target);
  });
  afterAll(async () => {
    await h.close();
    await target.dispose();
  });

  it.each(badCalls)("refuses %s with %j (%s)", async (method, params) => {
    const as = { userId: "someone", role: "admin" as const };
    const error = await h.failure(method, params as never, as);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(Array.isArray(error.details)).toBe(true);
    expect(await h.store.listUsers()).toEqual([]);
  });

  it("trims surrounding spaces from names rather than refusing them", async () => {
    const admin = await h.call("createFirstAdmin", { name: `  ${adminName}  `, password: adminPassword });
    expect(admin.name).toBe(adminName);
    await expect(
      h.call("login", { name: ` ${adminName} `, password: adminPassword, address: "a" }),
    ).resolves.toBeDefined();
  });
});
