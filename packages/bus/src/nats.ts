// "@soundmesh/bus/nats": what needs the NATS client — the NATS transport, the nats-server configuration with each
// service's permissions and keys, and the storage ring's membership in a NATS KV bucket. Apart from the package's main
// entry so that a process on the in-process bus never loads the client.
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
export { whenJetStreamReady, type JetStreamWaitOptions } from "./jetstream-ready";
export * from "./ring/ring-membership";
