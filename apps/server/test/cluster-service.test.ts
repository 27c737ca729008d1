// `soundmesh service` and `soundmesh cluster` at their boundaries, through the built CLI: a mistyped service, an
// unreachable NATS or PostgreSQL, a broken cluster.json each stop with one typed line; four processes of one service
// started at once on an empty database migrate it once (the advisory lock) and all start.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userMigrations } from "@soundmesh/service-user";
import { parseClusterFile } from "../src/cluster/cluster-file";
import { checkServiceName } from "../src/cluster/cluster-services";
import { pgTestDatabase, shouldRunNatsTests, startNatsServer, type NatsServer } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";

const runNats = shouldRunNatsTests();
let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "soundmesh-cluster-service-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function runCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, ...builtCliEnv, SOUNDMESH_DATA_DIR: dataDir, SOUNDMESH_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** The last line on stderr (the bin may say first that it rebuilt). */
const lastLine = (text: string) => text.trim().split("\n").at(-1) ?? "";

describe("soundmesh service: bad input", () => {
  it("names the nearest service for a mistyped one", async () => {
    const run = runCli(["service", "serch"]);
    expect(await run.exited).toBe(1);
    expect(lastLine(run.stderr())).toMatch(
      /^error VALIDATION_FAILED: no service is called "serch" \(did you mean search\?\)/,
    );
    expect(() => checkServiceName("access-point")).not.toThrow();
    expect(() => checkServiceName("zzzzzzzzzz")).toThrow(/the services are access-point, user/);
  });

  it("says in one line that NATS cannot be reached", async () => {
    const port = await closedPort();
    const run = runCli(["service", "tracker", "--nats", `nats://127.0.0.1:${port}`]);
    expect(await run.exited).toBe(1);
    expect(lastLine(run.stderr())).toMatch(
      new RegExp(`^error UNAVAILABLE: cannot reach NATS at nats://127.0.0.1:${port}`),
    );
  });

  it("says in one line that PostgreSQL cannot be reached, without the password", async () => {
    const port = await closedPort();
    const run = runCli([
      "service",
      "user",
      "--database-url",
      `postgres://someone:secret@127.0.0.1:${port}/music`,
    ]);
    expect(await run.exited).toBe(1);
    const line = lastLine(run.stderr());
    expect(line).toMatch(
      new RegExp(`^error UNAVAILABLE: cannot reach PostgreSQL at 127.0.0.1:${port}/music`),
    );
    expect(line).not.toContain("secret");
  });

  it("asks for PostgreSQL when a service with SQL state has none", async () => {
    const run = runCli(["service", "playlist"]);
    expect(await run.exited).toBe(1);
    expect(lastLine(run.stderr())).toMatch(
      /^error VALIDATION_FAILED: playlist keeps its state in PostgreSQL/,
    );
  });

  it("refuses a bad --instances and a bad NATS URL", async () => {
    const instances = runCli(["service", "search", "--instances", "0"]);
    expect(await instances.exited).toBe(1);
    expect(lastLine(instances.stderr())).toMatch(/--instances is a whole number from 1 to 64/);
    const url = runCli(["service", "search", "--nats", "http://x"]);
    expect(await url.exited).toBe(1);
    expect(url.stderr()).toMatch(/nats\.servers\.0/);
  });
});

describe("cluster.json", () => {
  it("lists every bad key with a typed error", () => {
    let caught: unknown;
    try {
      parseClusterFile(
        JSON.stringify({
          database: "mysql://x",
          nats: { nodes: 2 },
          services: { serch: 2, catalog: 2, storage: 0 },
        }),
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "VALIDATION_FAILED" });
    const paths = ((caught as { details: Array<{ path: string }> }).details ?? []).map((d) => d.path).sort();
    expect(paths).toEqual(
      expect.arrayContaining(["database", "nats.nodes", "services", "services.catalog", "services.storage"]),
    );
    expect(() => parseClusterFile("{ not json")).toThrow(/is not JSON/);
    expect(parseClusterFile(JSON.stringify({ database: "postgres://h/db" }))).toMatchObject({
      nats: { nodes: 1 },
      services: {},
    });
  });

  it("stops `soundmesh cluster` with one line per bad key, or for a missing file", async () => {
    const file = join(dataDir, "bad-cluster.json");
    writeFileSync(file, JSON.stringify({ database: "postgres://h/db", services: { "access-point": 99 } }));
    const bad = runCli(["cluster", "--file", file]);
    expect(await bad.exited).toBe(1);
    expect(lastLine(bad.stderr())).toBe(
      "error VALIDATION_FAILED: services.access-point: at most 16 processes",
    );
    const missing = runCli(["cluster", "--file", join(dataDir, "nope.json")]);
    expect(await missing.exited).toBe(1);
    expect(lastLine(missing.stderr())).toMatch(
      /^error NOT_FOUND: cannot read the cluster file .*nope\.json \(ENOENT\)/,
    );
  });
});

describe.runIf(runNats)("migrations in cluster mode", () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("four processes started at once on an empty database migrate it once and all start", async () => {
    const database = await pgTestDatabase();
    if (!database) return;
    try {
      const run = runCli([
        "service",
        "user",
        "--instances",
        "4",
        "--nats",
        nats.url,
        "--database-url",
        database.url,
      ]);
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`not all ready:\n${run.stdout()}\n${run.stderr()}`)),
            120_000,
          );
          run.child.stdout.on("data", () => {
            if ((run.stdout().match(/^ready user /gm) ?? []).length === 4) {
              clearTimeout(timer);
              resolve();
            }
          });
          void run.exited.then((code) => reject(new Error(`exited ${code}:\n${run.stderr()}`)));
        });
        expect(run.stdout()).toMatch(/ready user user-1/);
        expect(run.stdout()).toMatch(/ready user user-4/);
      } finally {
        run.child.kill("SIGTERM");
        expect(await run.exited).toBe(0);
      }
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>(
          "select name from migrations_user order by name",
        );
        expect(rows.map((row) => row.name)).toEqual(Object.keys(userMigrations).sort());
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  }, 180_000);
});
