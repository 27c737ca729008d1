// The library's safety from the command line, on SQLite and PostgreSQL: recorded folders (a different folder needs a
// flag), a folder gone missing, a mass removal refused then allowed, `serve` on a path that does not exist, and
// kill -9 in the middle of a scan of 350 files losing nothing.
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createDb, sql, type Db } from "@soundmesh/db";
import { SqlCatalogStore } from "@soundmesh/service-catalog";
import { pgTestDatabase, writeWav, type PgTestDatabase } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";

const work = mkdtempSync(join(tmpdir(), "soundmesh-folders-"));
const databases: PgTestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  rmSync(work, { recursive: true, force: true });
});

interface Target {
  name: string;
  /** A fresh data dir and database: the CLI's extra arguments, and a handle on the same database. */
  fresh(): Promise<{ dataDir: string; args: string[]; open: () => Db }>;
}

const sqlite: Target = {
  name: "sqlite",
  fresh: () => {
    const dataDir = mkdtempSync(join(work, "data-"));
    return Promise.resolve({
      dataDir,
      args: [],
      open: () => createDb({ kind: "sqlite", file: join(dataDir, "soundmesh.db") }),
    });
  },
};
const probe = await pgTestDatabase();
if (probe) databases.push(probe);
const postgres: Target = {
  name: "postgres",
  fresh: async () => {
    const database = (await pgTestDatabase())!;
    databases.push(database);
    return {
      dataDir: mkdtempSync(join(work, "data-")),
      args: ["--database-url", database.url],
      open: () => createDb({ kind: "postgres", url: database.url }),
    };
  },
};
const targets = probe ? [sqlite, postgres] : [sqlite];

function run(args: string[], onStderr?: (text: string, kill: () => void) => void, asUser?: string) {
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) => {
      const command = asUser ? ["runuser", "-u", asUser, "--", process.execPath] : [process.execPath];
      const child = spawn(command[0]!, [...command.slice(1), cliPath, ...args], {
        env: { ...process.env, ...builtCliEnv, SOUNDMESH_DEMO_LIBRARY: "false", SOUNDMESH_LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        onStderr?.(stderr, () => child.kill("SIGKILL"));
      });
      child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
    },
  );
}

let serial = 0;
function makeLibrary(count: number, from = 0, folder = join(work, `lib-${serial++}`)): string {
  mkdirSync(join(folder, "Album"), { recursive: true });
  for (let i = from; i < from + count; i++)
    writeWav(join(folder, "Album", `${String(i).padStart(3, "0")}.wav`), {
      title: `Song ${i}`,
      artist: "Tester",
      album: "Album",
      seed: i + 1,
      seconds: 0.2,
    });
  return folder;
}

async function idsByName(open: () => Db): Promise<Map<string, string>> {
  const db = open();
  try {
    const states = await new SqlCatalogStore(db).fileStates();
    return new Map(states.map((state) => [state.path.split("/").pop()!, state.id]));
  } finally {
    await db.close();
  }
}

describe.each(targets)("the library from the command line on $name", (target) => {
  it("records the first folder; a different one is refused in one line unless added or replacing", async () => {
    const { dataDir, args, open } = await target.fresh();
    const scan = (...more: string[]) => run(["scan", "--data-dir", dataDir, ...args, ...more]);
    const music = makeLibrary(3);
    const other = makeLibrary(2, 100);
    expect((await scan("--library", music)).stdout).toContain("3 added");
    // Without --library: the recorded folder, not an empty demo folder.
    expect((await scan()).stdout).toContain("0 added, 0 updated, 0 removed, 3 unchanged");
    const refused = await scan("--library", other);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(/^error LIBRARY_NOT_RECORDED: .*is not a library folder.*--add-library/);
    expect((await idsByName(open)).size).toBe(3);
    expect((await scan("--library", other, "--add-library")).stdout).toContain(
      "2 added, 0 updated, 0 removed",
    );
    expect((await scan()).stdout).toContain("5 unchanged");
    expect((await scan("--library", other, "--replace-library")).stdout).toContain("3 removed, 2 unchanged");
    const typo = await scan("--library", join(work, "no-such-folder"));
    expect(typo.code).toBe(1);
    expect(typo.stderr.trim()).toMatch(
      /^error LIBRARY_UNAVAILABLE: library folder .*no-such-folder does not exist/,
    );
  }, 120_000);

  it("refuses a first --library that holds none of an older catalog's tracks; the demo library yields at once", async () => {
    const { dataDir, args, open } = await target.fresh();
    const scan = (...more: string[]) => run(["scan", "--data-dir", dataDir, ...args, ...more]);
    const music = makeLibrary(3);
    const other = makeLibrary(2, 100);
    await scan("--library", music);
    // A catalog made before folders were recorded: tracks, but no recorded folder.
    const forget = async (record?: string) => {
      const db = open();
      try {
        await sql`delete from catalog_library_folders`.execute(db.kysely);
        if (record) await new SqlCatalogStore(db).recordLibraryFolders([record], Date.now());
      } finally {
        await db.close();
      }
    };
    await forget();
    const refused = await scan("--library", other);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(
      /^error LIBRARY_NOT_RECORDED: the catalog's 3 tracks are not in .*; use --replace-library/,
    );
    expect((await scan("--library", music)).stdout).toContain("3 unchanged");
    // Only the demo library recorded: the first real folder replaces it without a flag.
    await forget(join(dataDir, "demo-library"));
    expect((await scan("--library", other)).stdout).toContain("2 added, 0 updated, 3 removed");
  }, 120_000);

  it("stops on a missing folder and on a mass removal, removing nothing, until allowed", async () => {
    const { dataDir, args, open } = await target.fresh();
    const scan = (...more: string[]) => run(["scan", "--data-dir", dataDir, ...args, ...more]);
    const music = makeLibrary(20);
    await scan("--library", music);
    const before = await idsByName(open);
    renameSync(music, `${music}.unmounted`);
    const missing = await scan();
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error LIBRARY_UNAVAILABLE: library folder .* does not exist/);
    renameSync(`${music}.unmounted`, music);
    for (let i = 0; i < 12; i++) unlinkSync(join(music, "Album", `${String(i).padStart(3, "0")}.wav`));
    const mass = await scan();
    expect(mass.code).toBe(1);
    expect(mass.stderr).toMatch(/error MASS_REMOVAL_REFUSED: the scan would remove 12 of the 20 tracks/);
    expect(await idsByName(open)).toEqual(before);
    expect((await scan("--allow-mass-removal")).stdout).toContain("12 removed, 8 unchanged");
  }, 120_000);

  it("serve refuses a library folder that does not exist, in one line", async () => {
    const { dataDir, args } = await target.fresh();
    const result = await run([
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      ...args,
      "--library",
      join(work, "not-mounted"),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toMatch(
      /^error LIBRARY_UNAVAILABLE: library folder .*not-mounted does not exist \(is its disk mounted\?\)$/,
    );
  }, 60_000);

  it("kill -9 in the middle of a scan of 350 files loses nothing, and the next scan completes", async () => {
    const { dataDir, args, open } = await target.fresh();
    const scan = (more: string[], onStderr?: (text: string, kill: () => void) => void) =>
      run(["scan", "--data-dir", dataDir, ...args, ...more], onStderr);
    const music = makeLibrary(300);
    expect((await scan(["--library", music])).stdout).toContain("300 added");
    const before = await idsByName(open);
    // 100 files moved and renamed, 50 new ones: the killed scan would write 350 tracks in one transaction.
    mkdirSync(join(music, "Moved"));
    for (let i = 0; i < 100; i++) {
      const name = `${String(i).padStart(3, "0")}.wav`;
      renameSync(join(music, "Album", name), join(music, "Moved", `renamed-${name}`));
    }
    makeLibrary(50, 300, music);
    const killed = await scan(["--full"], (text, kill) => {
      if (text.includes("scan: saving")) kill();
    });
    expect(killed.signal).toBe("SIGKILL");
    // Either the scan's transaction had committed whole or not at all: no id lost or changed either way.
    const after = await idsByName(open);
    const seenIds = new Set(after.values());
    expect([...before.values()].every((id) => seenIds.has(id))).toBe(true);
    expect([300, 350]).toContain(after.size);
    const next = await scan([]);
    expect(next.code).toBe(0);
    const final = await idsByName(open);
    expect(final.size).toBe(350);
    for (const [name, id] of before) expect(final.get(name) ?? final.get(`renamed-${name}`)).toBe(id);
  }, 180_000);

  // Root reads any folder, so what an unreadable folder does for everyone else is seen as the user nobody.
  it.skipIf(process.getuid?.() !== 0)(
    "as an unprivileged user: a folder it may not read stops the scan; a subfolder it may not list keeps its tracks",
    async () => {
      const { dataDir, args, open } = await target.fresh();
      const shared = mkdtempSync(join(tmpdir(), "soundmesh-nobody-"));
      chmodSync(shared, 0o755);
      chmodSync(work, 0o755);
      chmodSync(dataDir, 0o777);
      try {
        const music = makeLibrary(12, 0, join(shared, "music"));
        makeLibrary(3, 50, join(music, "Sub"));
        const scan = () =>
          run(["scan", "--data-dir", dataDir, ...args, "--library", music], undefined, "nobody");
        expect((await scan()).stdout).toContain("15 added");
        const before = await idsByName(open);
        chmodSync(join(music, "Sub", "Album"), 0o700);
        const partial = await scan();
        expect(partial.code).toBe(0);
        expect(partial.stdout).toContain("0 removed, 12 unchanged, 1 could not be read");
        expect(await idsByName(open)).toEqual(before);
        chmodSync(join(music, "Sub", "Album"), 0o755);
        chmodSync(music, 0o700);
        const refused = await scan();
        expect(refused.code).toBe(1);
        expect(refused.stderr.trim()).toMatch(
          /^error LIBRARY_UNAVAILABLE: library folder .*music cannot be read \(EACCES\)/,
        );
        chmodSync(music, 0o755);
        expect(await idsByName(open)).toEqual(before);
      } finally {
        rmSync(shared, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
