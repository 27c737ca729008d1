// `soundmesh user …`: account administration on the database directly. Loaded only when a user command runs, and
// loads only the database and the user service.
import { AppError, role as roleSchema, userContract, type UserRecord } from "@soundmesh/protocol";
import { openUserAdmin } from "../user-admin";
import { configFrom, type GlobalOptions } from "./config-from";

async function readPassword(fromStdin: boolean | undefined, question: string): Promise<string> {
  if (!fromStdin && process.env.SOUNDMESH_PASSWORD) return process.env.SOUNDMESH_PASSWORD;
  // readline loads only for the commands that ask.
  const { promptPassword, readPasswordFromStdin } = await import("./prompt");
  return fromStdin ? readPasswordFromStdin() : promptPassword(question);
}

function printUsers(users: UserRecord[]): void {
  const rows = users.map((u) => [
    u.name,
    u.role,
    u.disabled ? "disabled" : "active",
    new Date(u.createdAt).toISOString(),
  ]);
  const header = ["NAME", "ROLE", "STATE", "CREATED"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
}

export async function addUser(
  name: string,
  options: { admin?: boolean; passwordStdin?: boolean },
  globals: GlobalOptions,
): Promise<void> {
  const config = configFrom(globals);
  const password = await readPassword(options.passwordStdin, `Password for ${name}: `);
  await openUserAdmin(config, async (bus) => {
    const { needsSetup } = await bus.request(userContract, "setupStatus", {});
    const created = needsSetup
      ? await bus.request(userContract, "createFirstAdmin", { name, password })
      : await bus.request(
          userContract,
          "createUser",
          { name, password, role: options.admin ? "admin" : "user" },
          { role: "admin" },
        );
    console.log(`created ${created.role} ${created.name}`);
  });
}

export async function listUsers(globals: GlobalOptions): Promise<void> {
  const config = configFrom(globals);
  await openUserAdmin(config, async (bus) =>
    printUsers(await bus.request(userContract, "listUsers", {}, { role: "admin" })),
  );
}

export async function changePassword(
  name: string,
  options: { passwordStdin?: boolean },
  globals: GlobalOptions,
): Promise<void> {
  const config = configFrom(globals);
  const password = await readPassword(options.passwordStdin, `New password for ${name}: `);
  await openUserAdmin(config, async (bus) => {
    await bus.request(userContract, "setPassword", { name, password });
    console.log(`password of ${name} changed`);
  });
}

/** The Subsonic password phone and desktop apps sign in with, kept apart from the login password. */
export async function setSubsonicPassword(
  name: string,
  options: { passwordStdin?: boolean },
  globals: GlobalOptions,
): Promise<void> {
  const config = configFrom(globals);
  const password = await readPassword(options.passwordStdin, `Subsonic password for ${name}: `);
  await openUserAdmin(config, async (bus) => {
    await bus.request(userContract, "setSubsonicPassword", { name, password });
    console.log(`Subsonic password of ${name} set`);
  });
}

export async function setDisabled(
  name: string,
  options: { enable?: boolean },
  globals: GlobalOptions,
): Promise<void> {
  const config = configFrom(globals);
  await openUserAdmin(config, async (bus) => {
    const record = await bus.request(
      userContract,
      "setDisabled",
      { name, disabled: !options.enable },
      { role: "admin" },
    );
    console.log(`${record.name} is ${record.disabled ? "disabled" : "enabled"}`);
  });
}

export async function setRole(name: string, role: string, globals: GlobalOptions): Promise<void> {
  const config = configFrom(globals);
  const parsed = roleSchema.safeParse(role);
  if (!parsed.success) throw new AppError("VALIDATION_FAILED", `The role is admin or user, not ${role}`);
  await openUserAdmin(config, async (bus) => {
    const record = await bus.request(userContract, "setRole", { name, role: parsed.data }, { role: "admin" });
    console.log(`${record.name} is ${record.role === "admin" ? "an admin" : "a plain user"}`);
  });
}
