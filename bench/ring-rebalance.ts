// Ring rebalance: storage nodes (the real storage service, each on its own NATS connection, membership in a JetStream
// KV bucket as in a cluster) hold a set of renditions at their owners; a node joins (3 -> 4) and a node leaves
// (4 -> 3), without and with handing its renditions over first. For each: the fraction of the renditions whose owner changes (against 1/N), the bytes moved between nodes
// (handoff) or transcoded again, and the time from the membership change until every moved rendition has been read
// whole at its new owner (its manifest and every piece, 4 readers at once, as listeners would). The join runs twice
// on the same keys: without handoff (the new owner transcodes) and with it (the new owner takes the old owner's bytes).
// Then replicas: three fresh nodes that copy each rendition they make to the key's next owner (as a cluster's do):
// the bytes copied per rendition and the time from a rendition being ready at its owner to its copy landing at the
// replica; then a node leaves without handing over (as a killed one would) and its keys are read at their new owners.
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createBus, keysMoved, previousOwners, type Bus, type ServiceBus } from "@soundmesh/bus";
import {
  connectNats,
  createNatsTransport,
  openRingBucket,
  startRingHeartbeat,
  watchRing,
  type RingHeartbeat,
  type RingWatcher,
} from "@soundmesh/bus/nats";
import { AppError, storageContract } from "@soundmesh/protocol";
import { createStorageService, storageManifest, type StorageService } from "@soundmesh/service-storage";
import { startNatsServer, waitUntil, writeTone } from "@soundmesh/test-kit";
import { percentile, printTable, round, writeResults, type Row } from "./report";

const RENDITIONS = Number(process.env.BENCH_RENDITIONS ?? 96);
const TRACK_SECONDS = 20;
const PROFILE = "opus96";
const READERS = 4;
const TTL_MS = 6_000;
const logger = pino({ level: "warn" });

const root = mkdtempSync(join(tmpdir(), "soundmesh-bench-ring-rebalance-"));
const sources = new Map<string, string>();
const trackIds = Array.from({ length: RENDITIONS }, (_, i) => `rebalance-${i}`);
mkdirSync(join(root, "library"));
for (const [i, id] of trackIds.entries()) {
  const path = join(root, "library", `${id}.flac`);
  await writeTone(path, { frequency: 200 + i * 10, seconds: TRACK_SECONDS, codec: ["-c:a", "flac"] });
  sources.set(id, path);
}
const resolveSource = (trackId: string) => {
  const path = sources.get(trackId);
  if (!path) return Promise.reject(new AppError("NOT_FOUND", "No such track"));
  const { size, mtimeMs } = statSync(path);
  return Promise.resolve({ path, sizeBytes: size, mtimeMs, durationMs: TRACK_SECONDS * 1000 });
};
const keyOf = (trackId: string) => `${trackId}/${PROFILE}`;

interface Node {
  id: string;
  bus: Bus;
  service: StorageService;
  watcher: RingWatcher;
  heartbeat: RingHeartbeat;
}

const nats = await startNatsServer(["-js", "-sd", join(root, "jetstream")]);
const kv = await connectNats({ servers: nats.url });
const bucket = await openRingBucket(kv, { ttlMs: TTL_MS });
/** The bench's own view of the ring, as an access point has it. */
const observer = await watchRing(bucket, { ttlMs: TTL_MS });
const callerBus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
const caller: ServiceBus = callerBus.connect({ service: "access-point", calls: ["storage"] });
const nodes = new Map<string, Node>();

/** Replicas: when each rendition was ready at its owner, and when its copy landed at a replica (with its bytes). */
const readyAtMs = new Map<string, number>();
const landed = new Map<string, { atMs: number; bytes: number }>();

/**
 * Starts a storage node and puts it on the ring; resolves once it serves, with the time its entry was written. With
 * `replicate`, each rendition it makes is copied to the key's other owner, as in a cluster.
 */
async function startNode(id: string, handoff: boolean, replicate = false): Promise<number> {
  const bus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
  const watcher = await watchRing(bucket, { ttlMs: TTL_MS });
  const service = createStorageService({
    config: {
      cacheDir: join(root, "nodes", id),
      capBytes: 1024 * 1024 * 1024,
      pieceSizeBytes: 64 * 1024,
      warmFfmpeg: false,
      nodeId: id,
    },
    logger,
    bus: bus.connect(storageManifest),
    resolveSource,
    ...(handoff
      ? { handoffPeers: (trackId: string) => previousOwners(watcher.ring(), id, keyOf(trackId), 2) }
      : {}),
    ...(replicate
      ? {
          replicaTargets: (trackId: string) => {
            const owners = watcher.ring().owners(keyOf(trackId), 2);
            return owners.includes(id) ? owners.filter((node) => node !== id) : [];
          },
        }
      : {}),
  });
  if (replicate) {
    const push = service.store.onReady;
    service.store.onReady = (ready) => {
      readyAtMs.set(ready.trackId, performance.now());
      push?.(ready);
    };
    const take = service.handlers.replicate;
    service.handlers.replicate = async (params, ctx) => {
      const answer = await take(params, ctx);
      if (answer.status === "taken")
        landed.set(params.trackId, { atMs: performance.now(), bytes: answer.bytes });
      return answer;
    };
  }
  await service.start();
  const joinedAtMs = performance.now();
  const heartbeat = await startRingHeartbeat(bucket, id, { intervalMs: TTL_MS / 3 });
  nodes.set(id, { id, bus, service, watcher, heartbeat });
  return joinedAtMs;
}

/** Nodes that left and are stopping meanwhile. */
const stopping: Array<Promise<void>> = [];

/**
 * Leaves the ring cleanly (its entry deleted), with `handOver` first handing the renditions it owns to their next
 * owners; the node stops in the background. Returns when it began to leave.
 */
async function leave(id: string, { wipe, handOver = false }: { wipe: boolean; handOver?: boolean }) {
  const node = nodes.get(id)!;
  const leftAtMs = performance.now();
  if (handOver)
    await node.service.handOver((trackId) => {
      const [owner, next] = node.watcher.ring().owners(keyOf(trackId), 2);
      return owner === id ? next : undefined;
    }, 60_000);
  nodes.delete(id);
  await node.heartbeat.leave();
  stopping.push(
    (async () => {
      await node.service.stop();
      await node.watcher.stop();
      await node.bus.close();
      if (wipe) rmSync(join(root, "nodes", id), { recursive: true, force: true });
    })(),
  );
  return leftAtMs;
}

/** Waits until the bench's watcher and every node's have exactly `members`. */
async function ringIs(members: string[]): Promise<void> {
  const same = (watcher: RingWatcher) => watcher.ring().nodes.join() === [...members].sort().join();
  await waitUntil(
    () => [observer, ...[...nodes.values()].map((node) => node.watcher)].every(same),
    Boolean,
    30_000,
    5,
  );
}

/** Reads a rendition whole at one node: its manifest, then every piece; returns its size. */
async function readWhole(trackId: string, node: string, reader: number): Promise<number> {
  const context = { instance: node, userId: `listener-${reader}`, timeoutMs: 120_000 };
  const manifest = await caller.request(storageContract, "manifest", { trackId, profile: PROFILE }, context);
  for (let index = 0; index < manifest.pieceCount; index += 1)
    await caller.request(storageContract, "piece", { trackId, profile: PROFILE, index }, context);
  return manifest.sizeBytes;
}

/** Every rendition in `ids` read whole at its owner on the current ring, READERS at once; returns their bytes. */
async function readAtOwners(ids: string[]): Promise<number> {
  const queue = [...ids];
  let bytes = 0;
  await Promise.all(
    Array.from({ length: READERS }, async (_, reader) => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const size = await readWhole(id, observer.ring().owners(keyOf(id))[0]!, reader);
        bytes += size;
      }
    }),
  );
  return bytes;
}

/** Renditions made at their owners on a ring of replicating nodes, and how their copies reached the replicas. */
async function measureReplication(): Promise<Row> {
  const loadBefore = loadavg()[0]!;
  const startedAtMs = performance.now();
  const madeBytes = await readAtOwners(trackIds);
  await Promise.all([...nodes.values()].map((node) => node.service.replication!.idle()));
  const spanS = (performance.now() - startedAtMs) / 1000;
  const delays = trackIds.map((id) => landed.get(id)!.atMs - readyAtMs.get(id)!).sort((a, b) => a - b);
  const copied = [...landed.values()].reduce((sum, copy) => sum + copy.bytes, 0);
  const stats = [...nodes.values()].map((node) => node.service.store.stats());
  return {
    renditions: `${landed.size} copies of ${RENDITIONS}`,
    "bytes copied per rendition": Math.round(copied / landed.size),
    "copied ÷ rendition bytes": round(copied / madeBytes, 3),
    "ready → copy landed p50 / p95 / max, ms": [0.5, 0.95, 1]
      .map((p) => Math.round(percentile(delays, p)))
      .join(" / "),
    "transcodes (at owners)": stats.reduce((sum, s) => sum + s.transcodesStarted, 0),
    "copies refused or retried": [...nodes.values()].reduce(
      (sum, node) => sum + node.service.replication!.stats().failures,
      0,
    ),
    "all made and copied, s": round(spanS, 2),
    load: round(loadBefore, 1),
  };
}

/** Each running node's handoff bytes and transcodes so far. */
const countsByNode = () =>
  new Map(
    [...nodes.values()].map((node) => {
      const stats = node.service.store.stats();
      return [node.id, { handoffBytes: stats.handoffBytes, transcodes: stats.transcodesStarted }];
    }),
  );

const rows: Row[] = [];
const replicaRows: Row[] = [];
/** One membership change: what moved, and how long until every moved rendition was read at its new owner. */
async function measure(what: string, change: () => Promise<number>, members: string[]): Promise<void> {
  const before = observer.ring();
  const countsBefore = countsByNode();
  const loadBefore = loadavg()[0]!;
  const changedAtMs = await change();
  await ringIs(members);
  const seenMs = performance.now() - changedAtMs;
  const after = observer.ring();
  const moved = trackIds.filter((id) => before.owners(keyOf(id))[0] !== after.owners(keyOf(id))[0]);
  const movedBytes = await readAtOwners(moved);
  const convergedMs = performance.now() - changedAtMs;
  // What the nodes running now did since the change (a node that left takes its counts with it).
  const since = { handoffBytes: 0, transcodes: 0 };
  for (const [id, now] of countsByNode()) {
    const then = countsBefore.get(id) ?? { handoffBytes: 0, transcodes: 0 };
    since.handoffBytes += now.handoffBytes - then.handoffBytes;
    since.transcodes += now.transcodes - then.transcodes;
  }
  const ideal = 1 / Math.max(before.nodes.length, after.nodes.length);
  const sample = Array.from({ length: 100_000 }, (_, i) => `track-${i}/${PROFILE}`);
  rows.push({
    change: what,
    "renditions moved": `${moved.length} of ${RENDITIONS}`,
    "fraction (ideal)": `${round(moved.length / RENDITIONS, 3)} (${round(ideal, 3)})`,
    "fraction of 100k keys": round(keysMoved(before, after, sample) / sample.length, 3),
    "bytes of moved renditions": movedBytes,
    "bytes handed off": since.handoffBytes,
    "transcoded again": since.transcodes,
    "ring seen by all, ms": Math.round(seenMs),
    "all moved readable, s": round(convergedMs / 1000, 2),
    load: round(loadBefore, 1),
  });
  console.log(JSON.stringify(rows.at(-1)));
}

try {
  const first = ["storage-1", "storage-2", "storage-3"];
  for (const id of first) await startNode(id, true);
  await ringIs(first);
  // The renditions made at their owners on the ring of three.
  await readAtOwners(trackIds);
  const joined = [...first, "storage-4"];
  await measure(
    "storage-4 joins (3 -> 4), no handoff: the new owner transcodes",
    () => startNode("storage-4", false),
    joined,
  );
  // The same join again from an empty node: the same keys move.
  await leave("storage-4", { wipe: true });
  await Promise.all(stopping);
  await ringIs(first);
  await measure("storage-4 joins (3 -> 4), with handoff", () => startNode("storage-4", true), joined);
  await measure(
    "storage-2 leaves (4 -> 3), no hand-over: the new owners transcode",
    () => leave("storage-2", { wipe: false }),
    ["storage-1", "storage-3", "storage-4"],
  );
  // Back to four (storage-2 still holds its renditions), then another node leaves, handing over first.
  await Promise.all(stopping);
  await startNode("storage-2", true);
  await ringIs(joined);
  await measure(
    "storage-3 leaves (4 -> 3), handing over first",
    () => leave("storage-3", { wipe: false, handOver: true }),
    ["storage-1", "storage-2", "storage-4"],
  );
  // Replicas: three fresh nodes (every disk wiped) copying what they make to the key's next owner.
  for (const id of [...nodes.keys()]) await leave(id, { wipe: true });
  await Promise.all(stopping);
  for (const id of ["storage-2", "storage-3"])
    rmSync(join(root, "nodes", id), { recursive: true, force: true });
  for (const id of first) await startNode(id, true, true);
  await ringIs(first);
  replicaRows.push(await measureReplication());
  console.log(JSON.stringify(replicaRows.at(-1)));
  await measure(
    "replicas on: storage-2 leaves (3 -> 2) without handing over, as a killed node would",
    () => leave("storage-2", { wipe: false }),
    ["storage-1", "storage-3"],
  );
} finally {
  for (const id of [...nodes.keys()]) await leave(id, { wipe: false });
  await Promise.all(stopping);
  await observer.stop();
  await callerBus.close();
  await kv.close();
  await nats.stop();
  rmSync(root, { recursive: true, force: true });
}

printTable(
  `Ring rebalance: ${RENDITIONS} renditions (${TRACK_SECONDS} s tracks, ${PROFILE}) on storage nodes over NATS; moved ones read whole at their new owner, ${READERS} at once`,
  rows,
);
printTable(
  `Replicas: ${RENDITIONS} renditions made at their owners on 3 nodes that copy each to the key's next owner (pulled by handoff, 1 MiB chunks, hashes checked); the delay is from the rendition on disk at its owner to its copy on disk at the replica`,
  replicaRows,
);
console.log(`load average (1 min) at each change in "load"; now ${loadavg()[0]!.toFixed(1)}`);
writeResults("ring-rebalance", rows, {
  renditions: RENDITIONS,
  trackSeconds: TRACK_SECONDS,
  replication: replicaRows,
});
