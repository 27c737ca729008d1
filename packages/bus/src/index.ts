// Public entry of @soundmesh/bus: the Bus interface, the policy layer and the in-process transport.
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
export type { NatsConnection } from "@nats-io/transport-node";
export {
  connectNats,
  createNatsTransport,
  defaultReconnect,
  reconnectDelayMs,
  type NatsReconnectOptions,
  type NatsTransportOptions,
} from "./nats-transport";
export * from "./nats-config";
export * from "./ring/hash-ring";
export * from "./ring/ring-membership";
export * from "./ring/owner-reader";
