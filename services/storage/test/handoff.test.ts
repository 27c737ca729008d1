// Handoff on a ring change, on a real nats-server with the real ffmpeg: a node that now owns a rendition it lacks takes
// it from the node that held it (its bytes checked against the manifest's hashes) instead of transcoding it again.
// Replicas: a node that makes a rendition it owns has it copied to the key's next owner in the background (pulled by
// `handoff`, hash-checked there), so the replica answers it without ffmpeg; a replica that has it answers `have` and
// nothing is sent; a copy that fails is retried until it lands.
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, storageContract, type StreamManifest } from "@soundmesh/protocol";
import { HashRing, createBus, previousOwners, type Bus, type ServiceBus } from "@soundmesh/bus";
import { createNatsTransport } from "@soundmesh/bus/nats";
import {
  RenditionStore,
  createStorageService,
  defaultProfiles,
  storageManifest,
  type FetchHandoff,
  type SourceInfo,
  type StorageService,
} from "@soundmesh/service-storage";
import {
  shouldRunNatsTests,
  startNatsServer,
  waitUntil,
  writeToneSync,
  type NatsServer,
} from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-handoff-"));
const PIECE = 16 * 1024;
const PROFILE = "opus96";
const flac = ["-c:a", "flac"];
const sources = new Map<string, string>();
afterAll(() => rmSync(work, { recursive: true, force: true }));

const resolveSource = (trackId: string): Promise<SourceInfo> => {
  const path = sources.get(trackId);
  if (!path) return Promise.reject(new AppError("NOT_FOUND", "No such track"));
  const { size, mtimeMs } = statSync(path);
  return Promise.resolve({ path, sizeBytes: size, mtimeMs, durationMs: 8_000 });
};

/** A track id whose rendition key `<id>/opus96` belongs to `node` on `ring` (the ring's hash decides, not the test). */
function trackOwnedBy(ring: HashRing, node: string, prefix: string): string {
  for (let i = 0; ; i += 1) {
    const id = `${prefix}${i}`;
    if (ring.owners(`${id}/${PROFILE}`)[0] === node) return id;
  }
}

const pieces = async (bus: ServiceBus, node: string, trackId: string, manifest: StreamManifest) => {
  const all: Uint8Array[] = [];
  for (let index = 0; index < manifest.pieceCount; index += 1)
    all.push(
      (
        await bus.request(
          storageContract,
          "piece",
          { trackId, profile: PROFILE, index },
          { instance: node, userId: "u1" },
        )
      ).bytes,
    );
  return Buffer.concat(all);
};

describe.skipIf(!shouldRunNatsTests())("storage handoff on a ring change", () => {
  let nats: NatsServer;
  const buses: Bus[] = [];
  const services: StorageService[] = [];
  /** The ring both nodes follow; the test changes it as a join would. */
  let ring = new HashRing(["storage-a"]);

  const startNode = async (nodeId: string, ffmpegPath: string) => {
    const bus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
    buses.push(bus);
    const service = createStorageService({
      config: {
        cacheDir: join(work, nodeId),
        capBytes: 50 * 1024 * 1024,
        pieceSizeBytes: PIECE,
        ffmpegPath,
        warmFfmpeg: false,
        nodeId,
      },
      logger,
      bus: bus.connect(storageManifest),
      resolveSource,
      handoffPeers: (trackId, profile) => previousOwners(ring, nodeId, `${trackId}/${profile}`, 2),
    });
    await service.start();
    services.push(service);
    return service;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await Promise.all(buses.map((bus) => bus.close()));
    await nats?.stop();
  });

  it("a node that joins answers a rendition it now owns with the old owner's bytes, without ffmpeg", async () => {
    const a = await startNode("storage-a", "ffmpeg");
    // storage-b cannot transcode at all: whatever it serves, it got from storage-a.
    const b = await startNode("storage-b", join(work, "no-ffmpeg-here"));
    const caller = buses[0]!.connect({ service: "access-point", calls: ["storage"] });
    const joined = new HashRing(["storage-a", "storage-b"]);
    const moved = trackOwnedBy(joined, "storage-b", "moved-");
    const never = trackOwnedBy(joined, "storage-b", "never-");
    sources.set(moved, writeToneSync(join(work, "moved.flac"), { frequency: 330, seconds: 8, codec: flac }));
    sources.set(never, writeToneSync(join(work, "never.flac"), { frequency: 550, seconds: 8, codec: flac }));

    const asked = { trackId: moved, profile: PROFILE };
    const before = await caller.request(storageContract, "manifest", asked, { instance: "storage-a" });
    const beforeBytes = await pieces(caller, "storage-a", moved, before);
    expect(a.store.stats().transcodesStarted).toBe(1);

    ring = joined;
    // Four readers at once on the new owner: one handoff serves them all.
    const [after] = await Promise.all(
      Array.from({ length: 4 }, () =>
        caller.request(storageContract, "manifest", asked, { instance: "storage-b", userId: "u1" }),
      ),
    );
    expect(after).toEqual(before);
    expect(await pieces(caller, "storage-b", moved, after!)).toEqual(beforeBytes);
    expect(b.store.stats()).toMatchObject({
      transcodesStarted: 0,
      handoffs: 1,
      handoffBytes: before.sizeBytes,
    });
    expect(a.store.stats().transcodesStarted).toBe(1);

    // The test can fail: a rendition nobody holds would need ffmpeg, which storage-b lacks.
    await expect(
      caller.request(
        storageContract,
        "manifest",
        { trackId: never, profile: PROFILE },
        { instance: "storage-b", userId: "u1" },
      ),
    ).rejects.toMatchObject({ code: "DEPENDENCY_MISSING" });
    expect(b.store.stats().handoffs).toBe(1);
  });

  it("handoff never transcodes on the node asked, and checks its parameters", async () => {
    const caller = buses[0]!.connect({ service: "access-point", calls: ["storage"] });
    const a = services[0]!;
    const started = a.store.stats().transcodesStarted;
    const unheld = trackOwnedBy(ring, "storage-a", "unheld-");
    sources.set(unheld, sources.get([...sources.keys()][0]!)!);
    const held = [...sources.keys()].find((id) => id.startsWith("moved-"))!;
    const askA = (trackId: string, start: number) =>
      caller.request(
        storageContract,
        "handoff",
        { trackId, profile: PROFILE, start },
        { instance: "storage-a" },
      );
    await expect(askA(unheld, 0)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(a.store.stats().transcodesStarted).toBe(started);
    await expect(askA(held, -1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(askA(held, 10_000_000)).rejects.toMatchObject({ code: "RANGE_NOT_SATISFIABLE" });
    expect((await askA(held, 0)).bytes.byteLength).toBeGreaterThan(0);
  });
  it("a node leaving cleanly first hands the renditions it owns to their next owners", async () => {
    const caller = buses[0]!.connect({ service: "access-point", calls: ["storage"] });
    const [a, b] = services as [StorageService, StorageService];
    const leaving = trackOwnedBy(ring, "storage-a", "leaving-");
    sources.set(
      leaving,
      writeToneSync(join(work, "leaving.flac"), { frequency: 660, seconds: 8, codec: flac }),
    );
    const asked = { trackId: leaving, profile: PROFILE };
    const made = await caller.request(storageContract, "manifest", asked, { instance: "storage-a" });
    const bytes = await pieces(caller, "storage-a", leaving, made);
    const handoffsBefore = b.store.stats().handoffs;
    // storage-a also holds a rendition storage-b owns ("moved-"): only its own go.
    const handed = await a.handOver((trackId, profile) => {
      const [owner, next] = ring.owners(`${trackId}/${profile}`, 2);
      return owner === "storage-a" ? next : undefined;
    }, 30_000);
    expect(handed).toEqual({ renditions: 1, bytes: made.sizeBytes });
    expect(b.store.stats()).toMatchObject({ transcodesStarted: 0, handoffs: handoffsBefore + 1 });
    // storage-a is gone from the ring: storage-b, without ffmpeg, serves the rendition whole.
    ring = new HashRing(["storage-b"]);
    await a.stop();
    services.splice(services.indexOf(a), 1);
    const after = await caller.request(storageContract, "manifest", asked, { instance: "storage-b" });
    expect(after).toEqual(made);
    expect(await pieces(caller, "storage-b", leaving, after)).toEqual(bytes);
  });
});

describe("a handed-off rendition is checked before it is taken", () => {
  const source = join(work, "checked.flac");
  beforeAll(() => {
    sources.set("checked", writeToneSync(source, { frequency: 440, seconds: 5, codec: flac }));
  });

  const storeWith = (dir: string, fetchHandoff?: FetchHandoff) =>
    new RenditionStore(
      {
        cacheDir: join(work, dir),
        capBytes: 50 * 1024 * 1024,
        pieceSizeBytes: PIECE,
        ffmpegPath: "ffmpeg",
        profiles: defaultProfiles,
        waitTimeoutMs: 20_000,
      },
      resolveSource,
      logger,
      undefined,
      fetchHandoff,
    );

  it("bytes unlike the manifest's hashes, a wrong track or piece size are refused: the node transcodes", async () => {
    const origin = storeWith("origin");
    await origin.load();
    const manifest = await origin.manifest("checked", PROFILE);
    const { bytes } = await origin.held("checked", PROFILE, 0, manifest.sizeBytes);
    const tampered = Uint8Array.from(bytes);
    tampered[tampered.byteLength - 1]! ^= 0xff;
    const bad: Array<Awaited<ReturnType<FetchHandoff>>> = [
      { manifest, bytes: tampered },
      { manifest, bytes: bytes.subarray(1) },
      { manifest: { ...manifest, trackId: "other" }, bytes },
      { manifest: { ...manifest, pieceSizeBytes: PIECE * 2 }, bytes },
      { manifest: { ...manifest, complete: false }, bytes },
    ];
    for (const [i, handed] of bad.entries()) {
      const store = storeWith(`refused-${i}`, () => Promise.resolve(handed));
      await store.load();
      expect(await store.manifest("checked", PROFILE)).toEqual(manifest);
      expect(store.stats(), `case ${i}`).toMatchObject({ transcodesStarted: 1, handoffs: 0 });
      store.close();
    }
    // And the same rendition, whole and untouched, is taken as it is.
    const taker = storeWith("taker", () => Promise.resolve({ manifest, bytes }));
    await taker.load();
    expect(await taker.manifest("checked", PROFILE)).toEqual(manifest);
    expect(taker.stats()).toMatchObject({ transcodesStarted: 0, handoffs: 1 });
    taker.close();
    origin.close();
  });

  it("a reader who arrives while a replica's copy is being taken waits for it, and transcodes when it fails", async () => {
    let handoffsAsked = 0;
    const store = storeWith("copy-then-reader", () => {
      handoffsAsked += 1;
      return Promise.resolve(undefined);
    });
    await store.load();
    let fail!: (error: Error) => void;
    let asked!: () => void;
    const copyAsked = new Promise<void>((resolve) => (asked = resolve));
    const copy = store.takeReplica("checked", PROFILE, () => {
      asked();
      return new Promise((_, reject) => (fail = reject));
    });
    await copyAsked;
    const read = store.manifest("checked", PROFILE);
    // Every microtask has run once a macrotask comes: the reader has reached the copy under way and waits for it
    // (one ask per rendition at once) instead of asking other nodes itself.
    await new Promise((resolve) => setImmediate(resolve));
    expect(handoffsAsked).toBe(0);
    fail(new AppError("UNAVAILABLE", "the owner died mid-copy"));
    await expect(copy).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect((await read).complete).toBe(true);
    expect(store.stats()).toMatchObject({ transcodesStarted: 1, replicasTaken: 0 });
    // The rendition is now here: asked for a copy again, the node has it.
    expect(await store.takeReplica("checked", PROFILE, () => Promise.resolve(undefined))).toEqual({
      status: "have",
      bytes: 0,
    });
    store.close();
  });
});

const REPLICA_NODES = ["storage-a", "storage-b", "storage-c"];
const replicaRing = new HashRing(REPLICA_NODES);

/** A track id whose rendition `storage-a` owns with `replica` as its next owner (the ring's hash decides). */
function trackReplicatedTo(replica: string, prefix: string): string {
  for (let i = 0; ; i += 1) {
    const id = `${prefix}${i}`;
    const [owner, next] = replicaRing.owners(`${id}/${PROFILE}`, 2);
    if (owner === "storage-a" && next === replica) return id;
  }
}

describe.skipIf(!shouldRunNatsTests())("copies of renditions at their replicas", () => {
  let nats: NatsServer;
  const buses: Bus[] = [];
  const nodes = new Map<string, StorageService>();
  /** Copies a node refuses before it takes one again (a replica being down), by node. */
  const refusals = new Map<string, number>();
  /** Nodes whose `handoff` answers have one byte turned (a corrupt disk or a lying node). */
  const corrupt = new Set<string>();

  const startNode = async (nodeId: string, ffmpegPath: string) => {
    const bus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
    buses.push(bus);
    const service = createStorageService({
      config: {
        cacheDir: join(work, "replicas", nodeId),
        capBytes: 50 * 1024 * 1024,
        pieceSizeBytes: PIECE,
        ffmpegPath,
        warmFfmpeg: false,
        nodeId,
      },
      logger,
      bus: bus.connect(storageManifest),
      resolveSource,
      handoffPeers: () => [],
      replicaTargets: (trackId, profile) => {
        const owners = replicaRing.owners(`${trackId}/${profile}`, 2);
        return owners.includes(nodeId) ? owners.filter((node) => node !== nodeId) : [];
      },
      replication: { retryFirstMs: 50, retryMaxMs: 200, attempts: 4 },
    });
    // A replica "down": its `replicate` fails as an unreachable node's would, for as many tries as the test says.
    const replicate = service.handlers.replicate;
    service.handlers.replicate = (params, ctx) => {
      const left = refusals.get(nodeId) ?? 0;
      if (left > 0) {
        refusals.set(nodeId, left - 1);
        throw new AppError("UNAVAILABLE", `${nodeId} is down`);
      }
      return replicate(params, ctx);
    };
    const handoff = service.handlers.handoff;
    service.handlers.handoff = async (params, ctx) => {
      const answer = await handoff(params, ctx);
      if (!corrupt.has(nodeId)) return answer;
      const bytes = Uint8Array.from(answer.bytes);
      bytes[bytes.byteLength - 1]! ^= 0xff;
      return { ...answer, bytes };
    };
    await service.start();
    nodes.set(nodeId, service);
  };
  const node = (id: string) => nodes.get(id)!;
  /** A new 6 s track whose rendition storage-a owns with `replica` as the next owner. */
  const trackFor = (replica: string, name: string, frequency: number) => {
    const trackId = trackReplicatedTo(replica, `${name}-`);
    sources.set(trackId, writeToneSync(join(work, `${name}.flac`), { frequency, seconds: 6, codec: flac }));
    return trackId;
  };
  const caller = () => buses[0]!.connect({ service: "access-point", calls: ["storage"] });

  beforeAll(async () => {
    nats = await startNatsServer();
    await startNode("storage-a", "ffmpeg");
    // The replicas cannot transcode at all: whatever they serve, they got from storage-a.
    await startNode("storage-b", join(work, "no-ffmpeg-here"));
    await startNode("storage-c", join(work, "no-ffmpeg-here"));
  });
  afterAll(async () => {
    await Promise.all([...nodes.values()].map((service) => service.stop()));
    await Promise.all(buses.map((bus) => bus.close()));
    await nats?.stop();
  });

  it("a rendition made at its owner lands whole at its replica, which answers it without ffmpeg", async () => {
    const [a, b, c] = REPLICA_NODES.map(node) as [StorageService, StorageService, StorageService];
    const trackId = trackFor("storage-b", "copied", 330);
    const asked = { trackId, profile: PROFILE };
    const made = await caller().request(storageContract, "manifest", asked, { instance: "storage-a" });
    const bytes = await pieces(caller(), "storage-a", trackId, made);

    await waitUntil(
      () => b.store.stats(),
      (stats) => stats.replicasTaken === 1,
      30_000,
      20,
    );
    await a.replication!.idle();
    expect(b.store.stats()).toMatchObject({ replicaBytes: made.sizeBytes, transcodesStarted: 0 });
    expect(a.replication!.stats()).toMatchObject({ pushed: 1, pushedBytes: made.sizeBytes, pending: 0 });
    // Only the next owner gets a copy; storage-c is no owner of this key.
    expect(c.store.stats().replicasTaken).toBe(0);
    // No temporary file is left beside the copy.
    const copies = join(work, "replicas", "storage-b");
    const copyDirs = readdirSync(copies).filter((name) => name !== "covers");
    expect(copyDirs.flatMap((dir) => readdirSync(join(copies, dir))).sort()).toEqual([
      "data",
      "manifest.json",
    ]);

    // The replica serves the same manifest and bytes, with no ffmpeg (it has none).
    const atReplica = await caller().request(storageContract, "manifest", asked, { instance: "storage-b" });
    expect(atReplica).toEqual(made);
    expect(await pieces(caller(), "storage-b", trackId, atReplica)).toEqual(bytes);
    expect(b.store.stats().transcodesStarted).toBe(0);

    // Asked again, the replica has it: `have`, nothing is sent.
    const again = await caller().request(
      storageContract,
      "replicate",
      { ...asked, from: "storage-a" },
      { instance: "storage-b" },
    );
    expect(again).toEqual({ status: "have", bytes: 0 });
    expect(b.store.stats()).toMatchObject({ replicasTaken: 1, replicaBytes: made.sizeBytes });
  });

  it("replicate checks its parameters and never transcodes for a copy", async () => {
    const a = node("storage-a");
    const b = node("storage-b");
    const trackId = trackFor("storage-b", "unmade", 770);
    const askB = (params: Record<string, unknown>) =>
      caller().request(
        storageContract,
        "replicate",
        { trackId, profile: PROFILE, from: "storage-a", ...params },
        { instance: "storage-b" },
      );
    for (const from of ["", "storage.a", "storage a", "x".repeat(65)])
      await expect(askB({ from }), from).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(askB({ profile: "Opus 96" })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(askB({ profile: "opus7" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(askB({ trackId: "no-such-track" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    // storage-a has not made it: nothing to copy, and neither node runs ffmpeg for it.
    const before = a.store.stats().transcodesStarted;
    await expect(askB({})).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(a.store.stats().transcodesStarted).toBe(before);
    expect(b.store.stats()).toMatchObject({ transcodesStarted: 0, replicasTaken: 1 });
  });

  it("a copy to a replica that is down is retried until it lands", async () => {
    const a = node("storage-a");
    const c = node("storage-c");
    const trackId = trackFor("storage-c", "retried", 440);
    const failuresBefore = a.replication!.stats().failures;
    // Down for two tries: the third lands.
    refusals.set("storage-c", 2);
    const made = await caller().request(
      storageContract,
      "manifest",
      { trackId, profile: PROFILE },
      { instance: "storage-a" },
    );
    await a.replication!.idle();
    expect(refusals.get("storage-c")).toBe(0);
    expect(a.replication!.stats()).toMatchObject({ failures: failuresBefore + 2, pending: 0 });
    expect(c.store.stats()).toMatchObject({
      replicasTaken: 1,
      replicaBytes: made.sizeBytes,
      transcodesStarted: 0,
    });
  });

  it("a replica checks every piece's hash: a copy that does not match is refused and not kept", async () => {
    const a = node("storage-a");
    const b = node("storage-b");
    const trackId = trackFor("storage-b", "tampered", 550);
    const asked = { trackId, profile: PROFILE };
    const failuresBefore = a.replication!.stats().failures;
    corrupt.add("storage-a");
    try {
      await caller().request(storageContract, "manifest", asked, { instance: "storage-a" });
      await expect(
        caller().request(
          storageContract,
          "replicate",
          { ...asked, from: "storage-a" },
          { instance: "storage-b" },
        ),
      ).rejects.toMatchObject({ code: "INTERNAL" });
      await waitUntil(
        () => a.replication!.stats(),
        (stats) => stats.failures >= failuresBefore + 1,
        30_000,
        20,
      );
      expect(b.store.stats().replicasTaken).toBe(1);
      await expect(
        caller().request(storageContract, "manifest", asked, { instance: "storage-b" }),
      ).rejects.toMatchObject({ code: "DEPENDENCY_MISSING" });
    } finally {
      corrupt.delete("storage-a");
    }
    // Once storage-a answers truly, the copy lands (by a retry, or offered again if the retries ran out meanwhile).
    a.replicateHeld();
    await a.replication!.idle();
    expect(b.store.stats().replicasTaken).toBe(2);
  });

  it("a copy given up on lands when the node offers what it holds again (a ring change, or its start)", async () => {
    const a = node("storage-a");
    const c = node("storage-c");
    const trackId = trackFor("storage-c", "swept", 660);
    const takenBefore = c.store.stats().replicasTaken;
    refusals.set("storage-c", Infinity);
    try {
      await caller().request(
        storageContract,
        "manifest",
        { trackId, profile: PROFILE },
        { instance: "storage-a" },
      );
      // Four tries, then given up: nothing pending, no copy.
      await waitUntil(
        () => a.replication!.stats().pending,
        (pending) => pending === 0,
        30_000,
        20,
      );
    } finally {
      refusals.delete("storage-c");
    }
    expect(c.store.stats().replicasTaken).toBe(takenBefore);
    // Every rendition storage-a holds is offered: those its replicas have cost a `have`, the missing one is copied.
    const pushedBefore = a.replication!.stats().pushed;
    expect(a.replicateHeld()).toBe(a.store.heldRenditions().length);
    await a.replication!.idle();
    expect(a.replication!.stats().pushed).toBe(pushedBefore + 1);
    expect(c.store.stats()).toMatchObject({ replicasTaken: takenBefore + 1, transcodesStarted: 0 });
  });
});
