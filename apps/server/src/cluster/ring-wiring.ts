// The storage ring in a cluster: each storage node heartbeats its entry into the JetStream KV bucket; each access
// point follows the bucket and reads renditions and album covers owner -> replica -> origin (services/access-point's
// ring reader and cover source).
import type { Logger } from "pino";
import { previousOwners, type HashRing, type ServiceBus } from "@soundmesh/bus";
import {
  accessPointsBucket,
  connectNats,
  openRingBucket,
  storageRingBucket,
  startRingHeartbeat,
  watchRing,
  whenJetStreamReady,
  type NatsTransportOptions,
  type RingWatcher,
} from "@soundmesh/bus/nats";
import {
  busRenditionReader,
  ringCoverSource,
  renditionKey,
  ringRenditionReader,
  type CoverSource,
  type RenditionReader,
} from "@soundmesh/service-access-point";

/** A node that has not heartbeat for this long is off the ring (it heartbeats every third of it). */
export const ringTtlMs = 6_000;
/** Owners asked per rendition before the origin: the owner and one replica. */
export const ringOwnersPerKey = 2;
/** How long a storage node stopping cleanly hands its renditions over (the cluster's stop waits 10 s per process). */
export const handOverWithinMs = 5_000;
/**
 * How long the ring stays unchanged before a storage node offers what it holds to its keys' replicas again: twice the
 * TTL, so a node that just joined takes what it is asked for by handoff first, and a flapping ring is not swept each time.
 */
export const replicateWhenStillMs = 2 * ringTtlMs;
/** How long a process waits for the bucket (a JetStream cluster electing its leader, storage not yet up). */
const bucketWaitMs = 60_000;

/** The bucket's copies: one per NATS server up to three, so losing one server loses no member. */
export const bucketReplicas = (servers: string | string[]) =>
  Math.min(3, Array.isArray(servers) ? servers.length : 1);

/** Retries `attempt` every 250 ms until it succeeds or `bucketWaitMs` has passed. */
const whenReady = <T>(what: string, logger: Logger, attempt: () => Promise<T>): Promise<T> =>
  whenJetStreamReady(what, attempt, {
    waitMs: bucketWaitMs,
    onWait: (error) => logger.info({ err: error }, `waiting: ${what}`),
  });

async function openBucketWhenReady(
  nats: NatsTransportOptions,
  logger: Logger,
  bucketName = storageRingBucket,
) {
  const connection = await connectNats(nats);
  try {
    const bucket = await whenReady(`opening the ${bucketName} bucket`, logger, () =>
      openRingBucket(connection, {
        bucket: bucketName,
        ttlMs: ringTtlMs,
        replicas: bucketReplicas(nats.servers),
      }),
    );
    return { connection, bucket };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/**
 * The nodes a storage node takes a rendition from when the ring says it owns it but it lacks it (it joined, or an
 * owner left): the rendition's owners on the ring without this node. None before the node follows the ring.
 */
export function handoffPeersOf(ring: () => HashRing | undefined, nodeId: string) {
  return (trackId: string, profile: string): readonly string[] => {
    const now = ring();
    return now ? previousOwners(now, nodeId, renditionKey(trackId, profile), ringOwnersPerKey) : [];
  };
}

/**
 * Where a rendition this node made or took is copied: the key's other owners on the ring when this node is one of
 * them (its replicas, or its owner when this node is the replica), none when it is not; undefined before it follows
 * the ring (asked again later).
 */
export function replicaTargetsOf(ring: () => HashRing | undefined, nodeId: string) {
  return (trackId: string, profile: string): readonly string[] | undefined => {
    const owners = ring()?.owners(renditionKey(trackId, profile), ringOwnersPerKey);
    if (!owners) return undefined;
    return owners.includes(nodeId) ? owners.filter((node) => node !== nodeId) : [];
  };
}

/** Where a leaving node hands a rendition over: to the next owner of a key it owns, none for the others. */
export function handOverTargetOf(ring: () => HashRing, nodeId: string) {
  return (trackId: string, profile: string): string | undefined => {
    const [owner, next] = ring().owners(renditionKey(trackId, profile), ringOwnersPerKey);
    return owner === nodeId ? next : undefined;
  };
}

/**
 * A storage node's place on the ring: heartbeats until stopped, then leaves at once; follows the ring meanwhile.
 * `onStill` is called once the ring has stayed unchanged for `replicateWhenStillMs` after it changed (and after
 * the node first saw it): a node joined or left, so some keys have a new replica.
 */
export async function joinStorageRing(
  nats: NatsTransportOptions,
  nodeId: string,
  logger: Logger,
  onStill?: () => void,
): Promise<{ ring(): HashRing; stop(): Promise<void> }> {
  const { connection, bucket } = await openBucketWhenReady(nats, logger);
  let still: NodeJS.Timeout | undefined;
  const onChange = () => {
    if (!onStill) return;
    clearTimeout(still);
    still = setTimeout(() => onStill?.(), replicateWhenStillMs);
    still.unref();
  };
  const watcher = await watchRing(bucket, { ttlMs: ringTtlMs, onChange }).catch(async (error: unknown) => {
    await connection.close();
    throw error;
  });
  // A bucket just created on a JetStream cluster has no leader for a moment: its first write is retried.
  const heartbeat = await whenReady("the first ring heartbeat", logger, () =>
    startRingHeartbeat(bucket, nodeId, {
      intervalMs: Math.floor(ringTtlMs / 3),
      onError: (error) => logger.warn({ err: error }, "ring heartbeat not written"),
    }),
  ).catch(async (error: unknown) => {
    await watcher.stop();
    await connection.close();
    throw error;
  });
  logger.info({ node: nodeId }, "joined the storage ring");
  return {
    ring: () => watcher.ring(),
    async stop() {
      clearTimeout(still);
      await heartbeat
        .leave()
        .catch((error: unknown) => logger.warn({ err: error }, "ring entry not deleted"));
      await watcher.stop();
      await connection.close();
    },
  };
}

export interface RingReading {
  reader: RenditionReader;
  /** Album covers from the storage nodes owning them (kept on their disks), then the catalog. */
  covers: CoverSource;
  watcher: RingWatcher;
  stop(): Promise<void>;
}

/** An access point's reads through the ring, following its membership. */
export async function readThroughRing(
  nats: NatsTransportOptions,
  bus: ServiceBus,
  logger: Logger,
): Promise<RingReading> {
  const { connection, bucket } = await openBucketWhenReady(nats, logger);
  const watcher = await watchRing(bucket, {
    ttlMs: ringTtlMs,
    onChange: (members) => logger.info({ nodes: members.map((m) => m.node) }, "storage ring changed"),
  });
  const owners = (key: string) => watcher.ring().owners(key, ringOwnersPerKey);
  const reader = ringRenditionReader({
    owners,
    node: (node) => busRenditionReader(bus, { instance: node }),
    origin: busRenditionReader(bus),
    onRead: ({ key, source, misses }) => {
      if (misses.length > 0) logger.info({ key, source, misses }, "rendition read moved past failed owners");
    },
  });
  const covers = ringCoverSource(bus, {
    owners,
    onRead: ({ key, source, misses }) => {
      if (misses.length > 0) logger.info({ key, source, misses }, "cover read moved past failed owners");
    },
  });
  return {
    reader,
    covers,
    watcher,
    async stop() {
      await watcher.stop();
      await connection.close();
    },
  };
}

export interface AccessPointAnnouncement {
  /** The session socket addresses of the live access points, this one's first. */
  urls(): string[];
  /** Told each time an access point joins or leaves. */
  onChange(listener: (urls: string[]) => void): void;
  /** Leaves the list at once (a clean stop); a crashed access point leaves when its heartbeats stop. */
  stop(): Promise<void>;
}

/**
 * This access point's session socket address (`ws://host:port/ws`) in the access points' bucket, heartbeat like a
 * storage node's ring entry, and the others' as they come and go: what its clients are told to move to when it fails.
 */
export async function announceAccessPoint(
  nats: NatsTransportOptions,
  nodeId: string,
  socketUrl: string,
  logger: Logger,
): Promise<AccessPointAnnouncement> {
  const { connection, bucket } = await openBucketWhenReady(nats, logger, accessPointsBucket);
  const listeners: Array<(urls: string[]) => void> = [];
  let current: string[] = [socketUrl];
  const urlsOf = (members: ReadonlyArray<{ node: string; info: Record<string, string> }>) => [
    socketUrl,
    ...members
      .filter((member) => member.node !== nodeId && typeof member.info.url === "string")
      .map((member) => member.info.url!)
      .filter((url) => url !== socketUrl)
      .sort(),
  ];
  const watcher = await watchRing(bucket, {
    ttlMs: ringTtlMs,
    onChange: (members) => {
      current = urlsOf(members);
      logger.info({ accessPoints: current }, "access points changed");
      for (const listener of listeners) listener(current);
    },
  });
  current = urlsOf(watcher.members());
  // The first put may meet a JetStream cluster still electing the bucket's leader: tried again until it lands.
  const heartbeat = await whenReady("announcing this access point", logger, () =>
    startRingHeartbeat(bucket, nodeId, {
      intervalMs: Math.floor(ringTtlMs / 3),
      info: { url: socketUrl },
      onError: (error) => logger.warn({ err: error }, "access point heartbeat failed"),
    }),
  ).catch(async (error: unknown) => {
    await watcher.stop();
    await connection.close();
    throw error;
  });
  return {
    urls: () => current,
    onChange: (listener) => listeners.push(listener),
    async stop() {
      await heartbeat
        .leave()
        .catch((error: unknown) => logger.warn({ err: error }, "access point not withdrawn"));
      await watcher.stop();
      await connection.close();
    },
  };
}
