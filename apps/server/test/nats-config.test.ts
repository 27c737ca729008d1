// `soundmesh nats-config` with the real manifests: a nats-server started with the file it writes lets each service
// do what its manifest declares and nothing else, including the storage ring's JetStream bucket.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBus, type Bus } from "@soundmesh/bus";
import {
  connectNats,
  createNatsTransport,
  inboxPrefixOf,
  openRingBucket,
  startRingHeartbeat,
  watchRing,
  type NatsConnection,
} from "@soundmesh/bus/nats";
import { catalogContract, userContract } from "@soundmesh/protocol";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import pino from "pino";
import { eventsManifest } from "@soundmesh/service-events";
import {
  createJetStreamEventLog,
  eventStreamName,
  eventSubjectPrefix,
} from "@soundmesh/service-events/jetstream";
import { shouldRunNatsTests, startNatsServer, waitUntil, type NatsServer } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";
import { serviceManifests } from "../src/topology-declarations.js";

const dir = mkdtempSync(join(tmpdir(), "soundmesh-nats-config-"));
const keysDir = join(dir, "keys");
const configFile = join(dir, "nats.conf");

function run(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, ...builtCliEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const seedOf = (service: string) => readFileSync(join(keysDir, `${service}.nk`), "utf8").trim();

describe.skipIf(!shouldRunNatsTests())("soundmesh nats-config", () => {
  let nats: NatsServer;
  const buses: Bus[] = [];
  const connections: NatsConnection[] = [];
  const violations: string[] = [];

  const busAs = async (service: string) => {
    const transport = await createNatsTransport({
      servers: nats.url,
      name: service,
      nkeySeed: seedOf(service),
      inboxPrefix: inboxPrefixOf(service),
      onPermissionViolation: ({ operation, subject }) =>
        violations.push(`${service} ${operation} ${subject}`),
    });
    const bus = createBus({ transport });
    buses.push(bus);
    return bus;
  };
  const connectionAs = async (service: string) => {
    const connection = await connectNats({
      servers: nats.url,
      nkeySeed: seedOf(service),
      inboxPrefix: inboxPrefixOf(service),
    });
    connections.push(connection);
    return connection;
  };

  beforeAll(async () => {
    const first = await run([
      "nats-config",
      "--out",
      configFile,
      "--keys",
      keysDir,
      "--jetstream",
      join(dir, "js"),
    ]);
    expect(first).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(
        `${serviceManifests.length} service users (${serviceManifests.map((m) => m.service).join(", ")})`,
      ),
    });
    nats = await startNatsServer(["-c", configFile]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await Promise.all(connections.map((connection) => connection.close()));
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the seeds readable by their owner only, keeps them on a second run, and no seed in the config", async () => {
    expect(statSync(join(keysDir, "storage.nk")).mode & 0o777).toBe(0o600);
    const seed = seedOf("storage");
    const again = await run(["nats-config", "--out", configFile, "--keys", keysDir]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain("new keys");
    expect(seedOf("storage")).toBe(seed);
    expect(readFileSync(configFile, "utf8")).not.toContain(seed);
    const missing = await run(["nats-config", "--keys", keysDir]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("--out");
  });

  it("lets events call the catalog and refuses its call to the user service, counted on the edge", async () => {
    const bus = await busAs("events");
    // Its code changed to claim the user service: the broker, configured from the real manifest, refuses.
    const events = bus.connect({ ...eventsManifest, calls: [...eventsManifest.calls, "user"] });
    // Nobody serves the catalog here: the broker carried the call and found no responder.
    await expect(events.request(catalogContract, "artists", {}, { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    await expect(events.request(userContract, "setupStatus", {}, { timeoutMs: 2_000 })).rejects.toMatchObject(
      {
        code: "FORBIDDEN_EDGE",
      },
    );
    expect(bus.edges()).toContainEqual(
      expect.objectContaining({ caller: "events", callee: "user", forbidden: 1 }),
    );
    await waitUntil(
      () => violations,
      (seen) => seen.includes("events publish svc.user.setupStatus"),
    );
  });

  it("lets storage heartbeat on the ring and the access point watch it, and keeps other services out", async () => {
    const storageBucket = await openRingBucket(await connectionAs("storage"), { ttlMs: 5_000 });
    const heartbeat = await startRingHeartbeat(storageBucket, "storage-1", { intervalMs: 1_000 });
    try {
      const accessBucket = await openRingBucket(await connectionAs("access-point"), { ttlMs: 5_000 });
      const watcher = await watchRing(accessBucket, { ttlMs: 5_000 });
      expect(watcher.ring().nodes).toEqual(["storage-1"]);
      await watcher.stop();
      // The access point reads the ring but may not write it; the search service may not even open it.
      await expect(accessBucket.put("storage-fake", "{}")).rejects.toThrow();
      await expect(openRingBucket(await connectionAs("search"), { ttlMs: 5_000 })).rejects.toThrow();
    } finally {
      heartbeat.stop();
    }
  });

  it("lets the events service keep its JetStream event log, and keeps other services off its stream", async () => {
    const logDir = join(dir, "events-log");
    const log = createJetStreamEventLog({
      connection: await connectionAs("events"),
      dir: logDir,
      clock: { now: () => Date.now() },
      allowedLatenessMs: 60_000,
      dedupWindowMs: 3_600_000,
      logger: pino({ level: "silent" }),
    });
    await log.open();
    try {
      const at = Date.now();
      const event = {
        v: 1 as const,
        id: "0190f2a4-7b1c-7000-8000-000000000001",
        at,
        trackId: "t-1",
        type: "stutter" as const,
        positionMs: 0,
        stalledMs: 100,
      };
      expect(await log.append([{ event, userId: "u1" }])).toMatchObject({ duplicates: 0, late: 0 });
      expect(await log.append([{ event, userId: "u1" }])).toMatchObject({ accepted: [], duplicates: 1 });
    } finally {
      await log.close();
    }
    // The catalog may not write into the events stream, nor read it.
    const catalog = await connectionAs("catalog");
    const js = jetstream(catalog);
    await expect(js.publish(`${eventSubjectPrefix}.2030-01-01T00.e`, "{}")).rejects.toThrow();
    await expect(
      jetstreamManager(catalog).then((manager) => manager.streams.info(eventStreamName)),
    ).rejects.toThrow(/Permissions Violation/);
  });
});
