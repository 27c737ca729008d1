// PostgreSQL for tests: a fresh database per call on the server at SOUNDMESH_TEST_PG_URL, dropped afterwards,
// optionally cloned from a prepared template; a loud skip when no server runs, a hard failure when CI is set.
import { randomBytes } from "node:crypto";
import pg from "pg";

export const defaultTestPgUrl = "postgres://postgres:soundmesh@127.0.0.1:5432/postgres";
const connectTimeoutMs = 3_000;

export interface PgTestDatabase {
  name: string;
  url: string;
  /** Drops the database, ending any connection still open to it; safe to call twice. */
  drop(): Promise<void>;
}

export interface PgTestTemplate {
  name: string;
  /** A fresh database holding a copy of the template (CREATE DATABASE … TEMPLATE, far faster than migrating again). */
  clone(): Promise<PgTestDatabase>;
  drop(): Promise<void>;
}

/** The admin URL tests connect with: SOUNDMESH_TEST_PG_URL, else the local default. */
export function testPgUrl(): string {
  const fromEnv = process.env.SOUNDMESH_TEST_PG_URL;
  return fromEnv === undefined || fromEnv === "" ? defaultTestPgUrl : fromEnv;
}

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function randomName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testPgUrl(), connectionTimeoutMillis: connectTimeoutMs });
  // A failure also rejects the pending call; without a listener an idle client's error event would crash the test process.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** No server answering (refused, unreachable, timed out), as opposed to a server that refuses us (password, rights). */
function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return true;
  return error instanceof Error && /timeout|terminated unexpectedly/i.test(error.message);
}

let availability: Promise<boolean> | undefined;

async function probe(): Promise<boolean> {
  const url = redact(testPgUrl());
  try {
    await withAdminClient((client) => client.query("select 1"));
    return true;
  } catch (error) {
    if (!isUnreachable(error)) {
      throw new Error(
        `PostgreSQL at ${url} answered but refused the test setup: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (isCi()) {
      throw new Error(`PostgreSQL not reachable at ${url} and CI is set: the PostgreSQL tests must run`, {
        cause: error,
      });
    }
    const line = "!".repeat(100);
    process.stderr.write(
      `\n${line}\n!!! PostgreSQL not reachable at ${url}: PostgreSQL tests SKIPPED\n` +
        `!!! (${(error as Error).message}); set SOUNDMESH_TEST_PG_URL or start a server to run them.\n${line}\n\n`,
    );
    return false;
  }
}

/** Whether the test server answers; probed once per process, so the warning prints once. Throws under CI when it does not. */
export function isPgAvailable(): Promise<boolean> {
  availability ??= probe();
  return availability;
}

async function createDatabase(name: string, template?: string): Promise<void> {
  await withAdminClient(async (client) => {
    await client.query(
      template === undefined
        ? `CREATE DATABASE "${name}"`
        : `CREATE DATABASE "${name}" TEMPLATE "${template}"`,
    );
  });
}

async function dropDatabase(name: string): Promise<void> {
  await withAdminClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

function handleFor(name: string): PgTestDatabase {
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: databaseUrl(testPgUrl(), name),
    drop: () => (dropped ??= dropDatabase(name)),
  };
}

/** A fresh, empty database (`soundmesh_test_<random>`), or null when no server runs and CI is unset. */
export async function pgTestDatabase(): Promise<PgTestDatabase | null> {
  if (!(await isPgAvailable())) return null;
  const name = randomName("soundmesh_test");
  await createDatabase(name);
  return handleFor(name);
}

/**
 * A template database filled once by `prepare` (typically: run migrations), cloned per test.
 * `prepare` must close every connection it opens: PostgreSQL refuses to copy a database in use.
 */
export async function pgTestTemplate(
  prepare: (url: string) => Promise<void>,
): Promise<PgTestTemplate | null> {
  if (!(await isPgAvailable())) return null;
  const template = handleFor(randomName("soundmesh_test_tpl"));
  await createDatabase(template.name);
  try {
    await prepare(template.url);
  } catch (error) {
    await template.drop();
    throw error;
  }
  return {
    name: template.name,
    async clone() {
      const name = randomName("soundmesh_test");
      await createDatabase(name, template.name);
      return handleFor(name);
    },
    drop: () => template.drop(),
  };
}
