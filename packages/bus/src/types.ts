// The Bus interface every service is written against; transports (in-process, NATS) sit behind it.
import type { z } from "zod";
import type {
  CallContext,
  EventContract,
  HandlersOf,
  ParamsOf,
  ResultOf,
  Role,
  ServiceContract,
} from "@soundmesh/protocol";

/** What a service declares about itself: the services it may call and the topics it uses. */
export interface ServiceManifest {
  service: string;
  calls: readonly string[];
  publishes?: readonly string[];
  subscribes?: readonly string[];
}

export interface RequestOptions {
  timeoutMs?: number;
  traceId?: string;
  /** Set by the access point when a request runs on behalf of a signed-in user. */
  userId?: string;
  role?: Role;
  sessionId?: string;
  peerId?: string;
  /** Ask this one process of the callee (its `serve` `instance`), not any member of its queue group. */
  instance?: string;
}

export interface ServeOptions {
  queue?: string;
  /** Also answer requests addressed to this process alone (`RequestOptions.instance`), e.g. a storage node's id. */
  instance?: string;
}

export interface Subscription {
  unsubscribe(): Promise<void>;
}

export type EventHandler<E extends EventContract> = (
  payload: z.output<E["payload"]>,
  ctx: CallContext,
) => void | Promise<void>;

/** The bus as one service sees it: every message it sends carries its name as the caller. */
export interface ServiceBus {
  readonly service: string;
  request<C extends ServiceContract, K extends keyof C["methods"] & string>(
    contract: C,
    method: K,
    params: ParamsOf<C, K>,
    options?: RequestOptions,
  ): Promise<ResultOf<C, K>>;
  serve<C extends ServiceContract>(
    contract: C,
    handlers: HandlersOf<C>,
    options?: ServeOptions,
  ): Promise<Subscription>;
  publish<E extends EventContract>(
    event: E,
    payload: z.input<E["payload"]>,
    options?: { traceId?: string },
  ): Promise<void>;
  subscribe<E extends EventContract>(
    event: E,
    handler: EventHandler<E>,
    options?: { queue?: string },
  ): Promise<Subscription>;
}

export interface EdgeStats {
  caller: string;
  callee: string;
  method: string;
  requests: number;
  errors: number;
  forbidden: number;
  rateLimited: number;
  timeouts: number;
  latencyMs: { p50: number; p99: number; count: number };
  /** Non-empty latency buckets as [index, count], cumulative; bucket i ends at latencyBucketUpperMs(i). */
  latencyBuckets: Array<[number, number]>;
}

export interface Bus {
  /** A handle for one service, bound to its manifest. */
  connect(manifest: ServiceManifest): ServiceBus;
  /** Per-edge counters and latency, for /metrics and the topology service. */
  edges(): EdgeStats[];
  close(): Promise<void>;
}
