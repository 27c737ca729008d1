// Public entry of @soundmesh/bus: the Bus interface, the policy layer, the in-process transport and the hash ring.
import { createBus, type BusOptions } from "./create-bus";
import { createInProcessTransport } from "./in-process-transport";
import type { Bus } from "./types";

export * from "./types";
export { createBus, type BusOptions } from "./create-bus";
export { createInProcessTransport } from "./in-process-transport";
export * from "./transport";
export { type RateLimitConfig, type RateLimitRule, defaultRateLimits, TokenBucket } from "./rate-limit";
export { latencyBucketUpperMs } from "./edge-metrics";
export {
  type BusFrame,
  BusFrameError,
  encode as encodeBusMessage,
  decode as decodeBusMessage,
  toWireBytes as busFrameToWireBytes,
  fromWireBytes as busFrameFromWireBytes,
} from "./codec";

/** The all-in-one bus: the policy layer over the in-process transport. */
export function createInProcessBus(options: Omit<BusOptions, "transport"> = {}): Bus {
  return createBus({ ...options, transport: createInProcessTransport() });
}
export * from "./ring/hash-ring";
export * from "./ring/owner-reader";
// The NATS transport, the broker's configuration and the storage ring's membership are in "@soundmesh/bus/nats":
// re-exported here, they would load the NATS client (350 kB) into every command that uses the bus at all.
