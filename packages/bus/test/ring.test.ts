// The storage ring: consistent hashing with virtual nodes (a join or leave moves close to 1/N of the keys),
// membership from a real JetStream KV bucket on a 3-node cluster, and reads that go owner, replica, origin.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { AppError } from "@soundmesh/protocol";
import { HashRing, createOwnerReader, keysMoved } from "@soundmesh/bus";
import {
  RingMembershipView,
  openRingBucket,
  startRingHeartbeat,
  watchRing,
  type RingHeartbeat,
  type RingWatcher,
} from "@soundmesh/bus/nats";
import { shouldRunNatsTests, startNatsCluster, waitUntil, type NatsCluster } from "@soundmesh/test-kit";

const keys = Array.from({ length: 20_000 }, (_, i) => `track-${i}:opus-160`);
const nodesOf = (n: number) => Array.from({ length: n }, (_, i) => `storage-${i + 1}`);

describe("consistent-hash ring", () => {
  it("spreads keys close to evenly with 128 virtual nodes", () => {
    for (const n of [3, 4, 8]) {
      const ring = new HashRing(nodesOf(n));
      const counts = new Map<string, number>();
      for (const key of keys) counts.set(ring.owners(key)[0]!, (counts.get(ring.owners(key)[0]!) ?? 0) + 1);
      for (const node of ring.nodes) {
        const share = (counts.get(node) ?? 0) / keys.length;
        expect(share, `${node} of ${n}`).toBeGreaterThan(0.7 / n);
        expect(share, `${node} of ${n}`).toBeLessThan(1.3 / n);
      }
    }
  });

  it("moves close to 1/N of the keys when a node joins, all of them to the new node", () => {
    for (const n of [3, 4, 8]) {
      const before = new HashRing(nodesOf(n));
      const after = before.withNode("storage-new");
      const fraction = keysMoved(before, after, keys) / keys.length;
      const ideal = 1 / (n + 1);
      expect(fraction, `join at N=${n}`).toBeGreaterThan(0.7 * ideal);
      expect(fraction, `join at N=${n}`).toBeLessThan(1.3 * ideal);
      for (const key of keys) {
        const [owner] = after.owners(key);
        if (owner !== before.owners(key)[0]) expect(owner).toBe("storage-new");
      }
    }
  });

  it("moves only the leaving node's keys when a node leaves, and its replicas take them", () => {
    for (const n of [3, 4, 8]) {
      const before = new HashRing(nodesOf(n));
      const after = before.withoutNode("storage-2");
      const fraction = keysMoved(before, after, keys) / keys.length;
      expect(fraction, `leave at N=${n}`).toBeGreaterThan(0.7 / n);
      expect(fraction, `leave at N=${n}`).toBeLessThan(1.3 / n);
      for (const key of keys.slice(0, 2_000)) {
        const [owner, replica] = before.owners(key, 2);
        if (owner === "storage-2") expect(after.owners(key)[0]).toBe(replica);
        else expect(after.owners(key)[0]).toBe(owner);
      }
    }
  });

  it("gives distinct replicas, never more than there are nodes, and the same answer in every process", () => {
    const ring = new HashRing(["c", "a", "b", "a"]);
    expect(ring.nodes).toEqual(["a", "b", "c"]);
    for (const key of keys.slice(0, 500)) {
      const owners = ring.owners(key, 5);
      expect(new Set(owners).size).toBe(3);
      expect(new HashRing(["b", "c", "a"]).owners(key, 2)).toEqual(owners.slice(0, 2));
    }
    expect(new HashRing([]).owners("x", 2)).toEqual([]);
    expect(() => new HashRing(["a"], { virtualNodes: 0 })).toThrow(RangeError);
  });
});

describe("ring membership view", () => {
  const entry = (key: string, atMs: number, operation: "PUT" | "DEL" = "PUT", value = "{}") => ({
    key,
    operation,
    created: new Date(atMs),
    value: new TextEncoder().encode(value),
  });

  it("drops a node whose last heartbeat is older than the TTL, and not a moment before", () => {
    const view = new RingMembershipView(1_000);
    expect(view.apply(entry("a", 10_000, "PUT", '{"url":"nats://x","n":1}'))).toBe(true);
    expect(view.apply(entry("b", 10_500))).toBe(true);
    expect(view.apply(entry("a", 10_600, "PUT", '{"url":"nats://x"}'))).toBe(false); // a heartbeat, not a join
    expect(view.list()[0]).toEqual({ node: "a", heartbeatAtMs: 10_600, info: { url: "nats://x" } });
    expect(view.prune(11_500)).toEqual([]);
    expect(view.prune(11_501)).toEqual(["b"]);
    expect(view.prune(11_600)).toEqual([]);
    expect(view.prune(11_601)).toEqual(["a"]);
  });

  it("takes a delete as a leave and ignores keys that are not node ids and values that are not JSON", () => {
    const view = new RingMembershipView(1_000);
    view.apply(entry("a", 0, "PUT", "not json"));
    expect(view.list()).toEqual([{ node: "a", heartbeatAtMs: 0, info: {} }]);
    expect(view.apply(entry("bad key!", 0))).toBe(false);
    expect(view.apply(entry("a", 1, "DEL"))).toBe(true);
    expect(view.list()).toEqual([]);
  });
});

describe("reading through the owners", () => {
  it("asks the owner, then the next replica, then the origin, and says who answered", async () => {
    const stores = new Map([
      ["n1", new Map([["k1", "from n1"]])],
      ["n2", new Map([["k2", "from n2"]])],
    ]);
    const origin: string[] = [];
    const reader = createOwnerReader<string>({
      owners: (key) => (key === "k3" ? ["n3", "n1"] : ["n1", "n2"]),
      fromNode: (node, key) => {
        if (node === "n3") return Promise.reject(new AppError("UNAVAILABLE", "n3 is down"));
        return Promise.resolve(stores.get(node)?.get(key));
      },
      fromOrigin: (key) => {
        origin.push(key);
        return Promise.resolve(`transcoded ${key}`);
      },
    });
    await expect(reader.read("k1")).resolves.toEqual({ value: "from n1", source: "n1", misses: [] });
    await expect(reader.read("k2")).resolves.toEqual({
      value: "from n2",
      source: "n2",
      misses: [{ node: "n1", reason: "miss" }],
    });
    await expect(reader.read("k3")).resolves.toEqual({
      value: "transcoded k3",
      source: "origin",
      misses: [
        { node: "n3", reason: "UNAVAILABLE" },
        { node: "n1", reason: "miss" },
      ],
    });
    expect(origin).toEqual(["k3"]);
    await expect(reader.read("")).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});

describe.skipIf(!shouldRunNatsTests())("ring membership from JetStream KV on a 3-node cluster", () => {
  const ttlMs = 1_500;
  let cluster: NatsCluster;
  const connections: NatsConnection[] = [];
  let watcher: RingWatcher;
  const heartbeats = new Map<string, RingHeartbeat>();

  const bucketOn = async (url: string): Promise<KV> => {
    const connection = await connect({ servers: url });
    connections.push(connection);
    return openRingBucket(connection, { ttlMs, replicas: 3 });
  };

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    // The cluster has formed once a bucket with three copies can be made.
    await waitUntil(
      () =>
        bucketOn(cluster.urls[0]!).then(
          () => true,
          () => false,
        ),
      Boolean,
      30_000,
      250,
    );
    // Each storage node heartbeats through a different server of the cluster; the watcher reads through another.
    for (const [index, node] of ["storage-a", "storage-b", "storage-c"].entries()) {
      const bucket = await bucketOn(cluster.urls[index]!);
      heartbeats.set(node, await startRingHeartbeat(bucket, node, { intervalMs: 300, info: { node } }));
    }
    watcher = await watchRing(await bucketOn(cluster.urls[1]!), { ttlMs, pruneIntervalMs: 100 });
  }, 60_000);

  afterAll(async () => {
    for (const heartbeat of heartbeats.values()) heartbeat.stop();
    await watcher?.stop();
    await Promise.all(connections.map((connection) => connection.close()));
    await cluster?.stop();
  });

  it("sees every node that heartbeats, drops one whose heartbeat stops after the TTL, and keeps every key reachable", async () => {
    expect(watcher.members().map((member) => member.node)).toEqual(["storage-a", "storage-b", "storage-c"]);
    const before = watcher.ring();
    // Each node holds the keys it owns or replicates (as a storage node's cache would).
    const stores = new Map(before.nodes.map((node) => [node, new Set<string>()]));
    const sample = keys.slice(0, 3_000);
    for (const key of sample) for (const node of before.owners(key, 2)) stores.get(node)!.add(key);

    heartbeats.get("storage-b")!.stop();
    await waitUntil(
      () => watcher.members().map((member) => member.node),
      (nodes) => !nodes.includes("storage-b"),
      30_000,
    );
    const after = watcher.ring();
    expect(after.nodes).toEqual(["storage-a", "storage-c"]);
    // Only the keys whose owner was storage-b have a new owner.
    for (const key of sample) {
      if (before.owners(key)[0] !== "storage-b") expect(after.owners(key)[0]).toBe(before.owners(key)[0]);
    }
    // Every key is read from a live node's cache: b's keys from the replica that already held them.
    const reader = createOwnerReader<string>({
      owners: (key) => watcher.ring().owners(key, 2),
      fromNode: (node, key) => Promise.resolve(stores.get(node)!.has(key) ? node : undefined),
      fromOrigin: () => Promise.reject(new AppError("INTERNAL", "origin should not be needed")),
    });
    const sources = new Set<string>();
    for (const key of sample) sources.add((await reader.read(key)).source);
    expect([...sources].sort()).toEqual(["storage-a", "storage-c"]);
  });

  it("drops a node that leaves cleanly at once, and takes it back when it heartbeats again", async () => {
    await heartbeats.get("storage-c")!.leave();
    await waitUntil(
      () => watcher.ring().nodes,
      (nodes) => nodes.join() === "storage-a",
    );
    const bucket = await bucketOn(cluster.urls[2]!);
    heartbeats.set("storage-c", await startRingHeartbeat(bucket, "storage-c", { intervalMs: 300 }));
    await waitUntil(
      () => watcher.ring().nodes,
      (nodes) => nodes.join() === "storage-a,storage-c",
    );
    await expect(startRingHeartbeat(bucket, "bad id!", { intervalMs: 300 })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });
});
