// The storage ring in a cluster: each storage node heartbeats its entry into the JetStream KV bucket; each access
// point follows the bucket and reads renditions owner -> replica -> origin (services/access-point's ring reader).
import type { Logger } from "pino";
import {
  connectNats,
  openRingBucket,
  startRingHeartbeat,
  watchRing,
  type NatsTransportOptions,
  type RingWatcher,
  type ServiceBus,
} from "@soundmesh/bus";
import { AppError } from "@soundmesh/protocol";
import {
  busRenditionReader,
  ringRenditionReader,
  type RenditionReader,
} from "@soundmesh/service-access-point";

/** A node that has not heartbeat for this long is off the ring (it heartbeats every third of it). */
export const ringTtlMs = 6_000;
/** Owners asked per rendition before the origin: the owner and one replica. */
export const ringOwnersPerKey = 2;
/** How long a process waits for the bucket (a JetStream cluster electing its leader, storage not yet up). */
const bucketWaitMs = 60_000;

/** The bucket's copies: one per NATS server up to three, so losing one server loses no member. */
const bucketReplicas = (servers: string | string[]) =>
  Math.min(3, Array.isArray(servers) ? servers.length : 1);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function openBucketWhenReady(nats: NatsTransportOptions, logger: Logger) {
  const connection = await connectNats(nats);
  const deadline = performance.now() + bucketWaitMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const bucket = await openRingBucket(connection, {
        ttlMs: ringTtlMs,
        replicas: bucketReplicas(nats.servers),
      });
      return { connection, bucket };
    } catch (error) {
      if (performance.now() > deadline) {
        await connection.close();
        throw new AppError("UNAVAILABLE", `the storage ring's bucket could not be opened on NATS`, {
          cause: error,
        });
      }
      if (attempt === 0) logger.info({ err: error }, "waiting for the storage ring's bucket");
      await sleep(250);
    }
  }
}

/** A storage node's place on the ring: heartbeats until stopped, then leaves at once. */
export async function joinStorageRing(
  nats: NatsTransportOptions,
  nodeId: string,
  logger: Logger,
): Promise<{ stop(): Promise<void> }> {
  const { connection, bucket } = await openBucketWhenReady(nats, logger);
  const heartbeat = await startRingHeartbeat(bucket, nodeId, {
    intervalMs: Math.floor(ringTtlMs / 3),
    onError: (error) => logger.warn({ err: error }, "ring heartbeat not written"),
  });
  logger.info({ node: nodeId }, "joined the storage ring");
  return {
    async stop() {
      await heartbeat
        .leave()
        .catch((error: unknown) => logger.warn({ err: error }, "ring entry not deleted"));
      await connection.close();
    },
  };
}

export interface RingReading {
  reader: RenditionReader;
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
  const reader = ringRenditionReader({
    owners: (key) => watcher.ring().owners(key, ringOwnersPerKey),
    node: (node) => busRenditionReader(bus, { instance: node }),
    origin: busRenditionReader(bus),
    onRead: ({ key, source, misses }) => {
      if (misses.length > 0) logger.info({ key, source, misses }, "rendition read moved past failed owners");
    },
  });
  return {
    reader,
    watcher,
    async stop() {
      await watcher.stop();
      await connection.close();
    },
  };
}
