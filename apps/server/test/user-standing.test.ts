// `soundmesh user disable|passwd|role` beside a running server, on SQLite and PostgreSQL: the CLI changes the
// database from another process, and the server's live sockets on the affected credentials close at once.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  WsClient,
  isPgAvailable,
  login,
  pgTestDatabase,
  setupAdmin,
  type PgTestDatabase,
} from "@soundmesh/test-kit";
import { builtCliEnv, cliPath, startServer, type TestServer } from "@soundmesh/test-kit/server";
import { AppError, catalogContract, userContract } from "@soundmesh/protocol";

/** How long after the command has exited its effect may take to reach a socket (the outbox is polled every 250 ms). */
// Each test spawns the CLI (TypeScript loaded through tsx: seconds on a busy machine), hence the long timeouts.
const deadlineMs = 3_000;

interface Dialect {
  name: string;
  start(): Promise<{ server: TestServer; cliArgs: string[]; drop: () => Promise<void> }>;
}

const dialects: Dialect[] = [
  {
    name: "sqlite",
    async start() {
      const server = await startServer();
      return { server, cliArgs: ["--data-dir", server.dataDir], drop: () => Promise.resolve() };
    },
  },
];
if (await isPgAvailable()) {
  dialects.push({
    name: "postgres",
    async start() {
      const database: PgTestDatabase | null = await pgTestDatabase();
      if (!database) throw new Error("PostgreSQL went away after it was found reachable");
      const server = await startServer({ databaseUrl: database.url });
      return {
        server,
        cliArgs: ["--data-dir", server.dataDir, "--database-url", database.url],
        drop: () => database.drop(),
      };
    },
  });
}

function soundmesh(args: string[], input = "") {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, ...builtCliEnv, SOUNDMESH_LOG_LEVEL: "warn" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * Resolves with the milliseconds from now (the command has exited) until every socket has closed with 4001, or
 * fails at the deadline; prints the figure.
 */
async function closedWith4001(what: string, sockets: WsClient[]): Promise<number> {
  const started = performance.now();
  await expect
    .poll(() => sockets.map((socket) => socket.closeCode), { timeout: deadlineMs, interval: 20 })
    .toEqual(sockets.map(() => 4001));
  const elapsedMs = performance.now() - started;
  console.log(`${what}: sockets closed ${elapsedMs.toFixed(0)} ms after the command exited`);
  return elapsedMs;
}

async function errorCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
  throw new Error("the request succeeded");
}

describe.each(dialects)("user commands beside a running server on $name", (dialect) => {
  let server: TestServer;
  let cliArgs: string[];
  let drop: () => Promise<void>;
  let admin: WsClient;

  /** A signed-in user's session socket and a socket on one of their API tokens. */
  async function userWithSockets(name: string, role: "admin" | "user") {
    const secret = `${name} password`;
    await admin.call(userContract, "createUser", { name, password: secret, role });
    const session = await WsClient.connect(server.url, await login(server.url, name, secret));
    const { token } = await session.call(userContract, "createApiToken", { label: "script" });
    return { session, token, viaToken: await WsClient.connect(server.url, token) };
  }

  beforeAll(async () => {
    ({ server, cliArgs, drop } = await dialect.start());
    admin = await WsClient.connect(
      server.url,
      await setupAdmin(server.url, "admin", "correct horse battery"),
    );
  });
  afterAll(async () => {
    await admin?.close();
    await server?.close();
    await drop?.();
  });

  it("user disable closes the user's session and API-token sockets with 4001", async () => {
    const bob = await userWithSockets("bob", "user");
    const result = await soundmesh([...cliArgs, "user", "disable", "bob"]);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining("bob is disabled") as string });
    expect(await closedWith4001("user disable", [bob.session, bob.viaToken])).toBeLessThan(deadlineMs);
    expect(
      (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${bob.token}` } })).status,
    ).toBe(401);
  });

  it("user passwd closes the user's sockets, API tokens included, and the new password signs in", async () => {
    const carol = await userWithSockets("carol", "user");
    const result = await soundmesh(
      [...cliArgs, "user", "passwd", "carol", "--password-stdin"],
      "a new password\n",
    );
    expect(result.code).toBe(0);
    expect(await closedWith4001("user passwd", [carol.session, carol.viaToken])).toBeLessThan(deadlineMs);
    await expect(login(server.url, "carol", "a new password")).resolves.toBeDefined();
  }, 60_000);

  it("user role demotes an admin: their sockets close, and new ones are refused admin methods", async () => {
    const dora = await userWithSockets("dora", "admin");
    await expect(dora.viaToken.call(userContract, "listUsers")).resolves.toBeDefined();
    const result = await soundmesh([...cliArgs, "user", "role", "dora", "user"]);
    expect(result).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("dora is a plain user") as string,
    });
    expect(await closedWith4001("user role … user", [dora.session, dora.viaToken])).toBeLessThan(deadlineMs);
    const again = await WsClient.connect(server.url, dora.token);
    expect(await errorCodeOf(again.call(userContract, "listUsers"))).toBe("FORBIDDEN");
    expect(await errorCodeOf(again.call(catalogContract, "scan", { full: false }))).toBe("FORBIDDEN");
    await again.close();
    // Promoted back, the user's sockets (on the old role) close again.
    const viaToken = await WsClient.connect(server.url, dora.token);
    expect((await soundmesh([...cliArgs, "user", "role", "dora", "admin"])).stdout).toContain(
      "dora is an admin",
    );
    expect(await closedWith4001("user role … admin", [viaToken])).toBeLessThan(deadlineMs);
  }, 90_000);
});
