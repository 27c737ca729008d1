// Who is on the storage ring: each node puts its entry into a JetStream KV bucket every heartbeat; the bucket's
// max age drops entries nobody renews, and every watcher also drops a node whose last heartbeat is older than the
// TTL (the bucket's expiry sends watchers nothing). A node that stops cleanly deletes its entry and leaves at once.
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { AppError } from "@soundmesh/protocol";
import { HashRing } from "./hash-ring";

export const storageRingBucket = "storage-ring";
/** Where a cluster's access points announce their session sockets' addresses (the same heartbeats and TTL). */
export const accessPointsBucket = "access-points";

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function checkNodeId(node: string): string {
  if (!NODE_ID.test(node)) {
    throw new AppError(
      "VALIDATION_FAILED",
      `a ring node id is 1-64 letters, digits, _ or -, not ${JSON.stringify(node)}`,
    );
  }
  return node;
}

export interface RingMember {
  node: string;
  /** When its last heartbeat was written (the broker's timestamp). */
  heartbeatAtMs: number;
  /** What the node announced about itself (e.g. where to reach it); empty when its entry was not JSON. */
  info: Record<string, string>;
}

/** The membership a watcher holds, fed with bucket entries; pure, so its expiry rule is testable with any clock. */
export class RingMembershipView {
  private readonly members = new Map<string, RingMember>();

  constructor(readonly ttlMs: number) {}

  /** Applies one bucket entry; returns whether the set of members changed. */
  apply(entry: Pick<KvEntry, "key" | "operation" | "created" | "value">): boolean {
    if (!NODE_ID.test(entry.key)) return false;
    if (entry.operation !== "PUT") return this.members.delete(entry.key);
    const known = this.members.has(entry.key);
    this.members.set(entry.key, {
      node: entry.key,
      heartbeatAtMs: entry.created.getTime(),
      info: parseInfo(entry.value),
    });
    return !known;
  }

  /** Drops members whose last heartbeat is older than the TTL at `nowMs`; returns the nodes dropped. */
  prune(nowMs: number): string[] {
    const dropped: string[] = [];
    for (const [node, member] of this.members) {
      if (nowMs - member.heartbeatAtMs > this.ttlMs) {
        this.members.delete(node);
        dropped.push(node);
      }
    }
    return dropped;
  }

  list(): RingMember[] {
    return [...this.members.values()].sort((a, b) => a.node.localeCompare(b.node));
  }
}

function parseInfo(value: Uint8Array): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(value));
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return {};
    return Object.fromEntries(
      Object.entries(parsed).filter((pair): pair is [string, string] => typeof pair[1] === "string"),
    );
  } catch {
    return {};
  }
}

export interface RingBucketOptions {
  bucket?: string;
  /** How long an entry lives without a heartbeat. */
  ttlMs: number;
  /** Copies of the bucket in a JetStream cluster (1, 3 or 5). */
  replicas?: number;
}

/** Opens (creating if needed) the membership bucket; its max age is the TTL. */
export function openRingBucket(connection: NatsConnection, options: RingBucketOptions): Promise<KV> {
  return new Kvm(connection).create(options.bucket ?? storageRingBucket, {
    ttl: options.ttlMs,
    history: 1,
    replicas: options.replicas ?? 1,
  });
}

export interface RingHeartbeat {
  /** Stops renewing the entry, leaving it to expire (what a crashed node does). */
  stop(): void;
  /** Stops and deletes the entry: the node leaves every watcher's ring at once. */
  leave(): Promise<void>;
}

/** Puts this node's entry now and every `intervalMs` (a third of the TTL is a sensible interval). */
export async function startRingHeartbeat(
  bucket: KV,
  node: string,
  options: { intervalMs: number; info?: Record<string, string>; onError?: (error: unknown) => void },
): Promise<RingHeartbeat> {
  checkNodeId(node);
  const value = JSON.stringify(options.info ?? {});
  await bucket.put(node, value);
  const timer = setInterval(() => {
    bucket.put(node, value).catch((error: unknown) => options.onError?.(error));
  }, options.intervalMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    leave: async () => {
      clearInterval(timer);
      await bucket.delete(node);
    },
  };
}

export interface RingWatcher {
  members(): RingMember[];
  /** The ring of the current members. */
  ring(): HashRing;
  stop(): Promise<void>;
}

/**
 * Follows the bucket: the ring is rebuilt when a node joins, leaves or misses its heartbeats for the TTL (checked
 * every `pruneIntervalMs`, by default a tenth of the TTL). Resolves once the bucket's current entries are read.
 */
export async function watchRing(
  bucket: KV,
  options: {
    ttlMs: number;
    pruneIntervalMs?: number;
    virtualNodes?: number;
    nowMs?: () => number;
    onChange?: (members: RingMember[]) => void;
  },
): Promise<RingWatcher> {
  const view = new RingMembershipView(options.ttlMs);
  const nowMs = options.nowMs ?? Date.now;
  const ringOptions = options.virtualNodes === undefined ? {} : { virtualNodes: options.virtualNodes };
  let ring = new HashRing([], ringOptions);
  const changed = () => {
    ring = new HashRing(
      view.list().map((member) => member.node),
      ringOptions,
    );
    options.onChange?.(view.list());
  };
  const entries = await bucket.watch();
  let caughtUp: () => void = () => undefined;
  const initial = new Promise<void>((resolve) => (caughtUp = resolve));
  void (async () => {
    for await (const entry of entries) {
      const joinedOrLeft = view.apply(entry);
      const expired = view.prune(nowMs()).length > 0;
      if (joinedOrLeft || expired) changed();
      if (entry.delta === 0) caughtUp();
    }
  })();
  // An empty bucket has no last entry to mark the end of its history: its stream says how many there are.
  const status = await bucket.status();
  if (status.values === 0) caughtUp();
  await initial;
  const pruner = setInterval(
    () => {
      if (view.prune(nowMs()).length > 0) changed();
    },
    options.pruneIntervalMs ?? Math.max(10, Math.floor(options.ttlMs / 10)),
  );
  pruner.unref();
  return {
    members: () => view.list(),
    ring: () => ring,
    stop: () => {
      clearInterval(pruner);
      entries.stop();
      return Promise.resolve();
    },
  };
}
