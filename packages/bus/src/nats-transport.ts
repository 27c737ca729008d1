// NATS transport for cluster mode: subjects svc.<service>.<method> with a queue group per service, headers carry
// context, and each message is one binary frame (envelope + raw bytes, see codec.ts). It reconnects with
// exponential back-off, waits out a broker restart within a request's timeout, and turns the broker's permission
// refusals (generated from the manifests, see nats-config.ts) into a typed error.
import {
  connect,
  headers as natsHeaders,
  nkeyAuthenticator,
  type ConnectionOptions,
  type MsgHdrs,
  type NatsConnection,
} from "@nats-io/transport-node";
import {
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from "@nats-io/transport-node";
import { AppError } from "@soundmesh/protocol";
import { BusFrameError, encode, fromWireBytes, toWireBytes } from "./codec";
import {
  TransportForbidden,
  TransportNoResponders,
  TransportTimeout,
  TransportUnavailable,
  type MessageHeaders,
  type Transport,
  type TransportHandler,
  type TransportSubscription,
} from "./transport";

const HEADER_NAMES = {
  caller: "Sm-Caller",
  traceId: "Sm-Trace-Id",
  userId: "Sm-User-Id",
  role: "Sm-Role",
  sessionId: "Sm-Session-Id",
  peerId: "Sm-Peer-Id",
} as const;

function toNatsHeaders(context: MessageHeaders): MsgHdrs {
  const result = natsHeaders();
  result.set(HEADER_NAMES.caller, context.caller);
  result.set(HEADER_NAMES.traceId, context.traceId);
  if (context.userId !== undefined) result.set(HEADER_NAMES.userId, context.userId);
  if (context.role !== undefined) result.set(HEADER_NAMES.role, context.role);
  if (context.sessionId !== undefined) result.set(HEADER_NAMES.sessionId, context.sessionId);
  if (context.peerId !== undefined) result.set(HEADER_NAMES.peerId, context.peerId);
  return result;
}

function fromNatsHeaders(received: MsgHdrs | undefined): MessageHeaders {
  const context: MessageHeaders = {
    caller: received?.get(HEADER_NAMES.caller) || "unknown",
    traceId: received?.get(HEADER_NAMES.traceId) || "",
  };
  const userId = received?.get(HEADER_NAMES.userId);
  const role = received?.get(HEADER_NAMES.role);
  if (userId) context.userId = userId;
  if (role) context.role = role;
  const sessionId = received?.get(HEADER_NAMES.sessionId);
  if (sessionId) context.sessionId = sessionId;
  const peer = received?.get(HEADER_NAMES.peerId);
  if (peer) context.peerId = peer;
  return context;
}

/** The policy layer's failure envelope, for requests whose bytes never reached it. */
const badFrameReply = (error: BusFrameError) =>
  encode({ ok: false, error: new AppError("BAD_FRAME", error.message).toWire() });

export interface NatsReconnectOptions {
  /** First delay between reconnect attempts; doubled each attempt up to maxMs, plus up to 20% jitter. */
  baseMs: number;
  maxMs: number;
}

export interface NatsTransportOptions {
  servers: string | string[];
  name?: string;
  /** The service's NKey seed ("SU..."), when the broker enforces per-service permissions. */
  nkeySeed?: string;
  /** Reply subjects start with this (the generated permissions let each service read only `_INBOX.<service>.>`). */
  inboxPrefix?: string;
  reconnect?: NatsReconnectOptions;
  /**
   * After this connection reconnects, a request that finds no responder is retried until its timeout for this long:
   * the callee's own connection is usually a moment behind in resubscribing.
   */
  settleAfterReconnectMs?: number;
  /** Called when a handler throws outside the bus policy layer (it normally never does). */
  onHandlerError?: (error: unknown, subject: string) => void;
  /** Called for each message the broker refuses to carry for this connection (publish or subscribe). */
  onPermissionViolation?: (violation: { operation: "publish" | "subscription"; subject: string }) => void;
}

export const defaultReconnect: NatsReconnectOptions = { baseMs: 100, maxMs: 5_000 };

/** The delay before reconnect attempt `attempt` (0-based): exponential back-off with a cap and jitter. */
export function reconnectDelayMs(
  attempt: number,
  options: NatsReconnectOptions,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exponential * (1 + 0.2 * random()));
}

/** The service's connection options: its NKey, its own inbox prefix, back-off. */
function natsConnectionOptions(options: NatsTransportOptions, nextDelay: () => number): ConnectionOptions {
  return {
    servers: options.servers,
    name: options.name ?? "soundmesh",
    maxReconnectAttempts: -1,
    reconnectDelayHandler: nextDelay,
    ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
    ...(options.nkeySeed === undefined
      ? {}
      : { authenticator: nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed)) }),
  };
}

/** A promise that only ever rejects, when `reject` is called; unobserved, it raises nothing. */
function lossSignal(): { promise: Promise<never>; reject(reason: Error): void } {
  let reject: (reason: Error) => void = () => undefined;
  const promise = new Promise<never>((_, rejectPromise) => (reject = rejectPromise));
  promise.catch(() => undefined);
  return { promise, reject };
}

function arrivalSignal(): { promise: Promise<void>; resolve(): void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((resolvePromise) => (resolve = resolvePromise));
  return { promise, resolve };
}

/** Whether `signal` settles before the deadline (a performance.now() time). */
async function arrivesBefore(signal: Promise<void>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([signal.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function permissionViolationOf(error: unknown): PermissionViolationError | undefined {
  if (error instanceof PermissionViolationError) return error;
  if (error instanceof Error && error.cause instanceof PermissionViolationError) return error.cause;
  return undefined;
}

const isTimeout = (error: unknown) =>
  error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError);

const isNoResponders = (error: unknown) =>
  error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders());

export async function createNatsTransport(options: NatsTransportOptions): Promise<Transport> {
  const settleMs = options.settleAfterReconnectMs ?? 2_000;
  let reconnectedAtMs = Number.NEGATIVE_INFINITY;
  let disconnected = false;
  /** Settles when the current connection drops: requests written to it may be lost with it. */
  let connectionLost = lossSignal();
  let reconnected = arrivalSignal();
  const connection = await connectNats(options);

  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === "disconnect") {
        connectionLost.reject(new Error("the connection to the broker dropped"));
        connectionLost = lossSignal();
      }
      if (status.type === "disconnect" || status.type === "reconnecting") disconnected = true;
      if (status.type === "reconnect") {
        disconnected = false;
        reconnected.resolve();
        reconnected = arrivalSignal();
        reconnectedAtMs = performance.now();
      }
      if (status.type === "error" && status.error instanceof PermissionViolationError) {
        options.onPermissionViolation?.({ operation: status.error.operation, subject: status.error.subject });
      }
    }
  })();

  /** Whether a missing responder may only be a callee still resubscribing after a broker restart. */
  const settling = () => disconnected || performance.now() - reconnectedAtMs < settleMs;

  return {
    async request(subject, data, context, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      const payload = toWireBytes(data);
      for (let retry = 0; ; retry++) {
        // nats.js drops what was published while disconnected when it reconnects: a request made then waits for the
        // reconnect (within its timeout) and only then goes out, so a broker restart delays it but does not lose it.
        if (disconnected && !(await arrivesBefore(reconnected.promise, deadline))) {
          throw new TransportUnavailable(subject, "not connected to the broker");
        }
        const remaining = Math.max(1, Math.round(deadline - performance.now()));
        // Written to a connection that then drops, a request or its reply may be lost: the caller hears it at once
        // (UNAVAILABLE) instead of at its timeout, and nothing is sent twice.
        const sentOn = connectionLost.promise;
        const pending = connection.request(subject, payload, {
          timeout: remaining,
          headers: toNatsHeaders(context),
        });
        try {
          const reply = await Promise.race([
            pending,
            sentOn.catch((lost: unknown) => {
              pending.catch(() => undefined);
              throw new TransportUnavailable(
                subject,
                "the connection to the broker dropped before the reply",
                lost,
              );
            }),
          ]);
          return fromWireBytes(reply.data);
        } catch (error) {
          if (error instanceof TransportUnavailable) throw error;
          if (permissionViolationOf(error)) throw new TransportForbidden(subject);
          if (isTimeout(error)) throw new TransportTimeout(subject, timeoutMs);
          if (isNoResponders(error)) {
            const wait = Math.min(25 * 2 ** Math.min(retry, 5), deadline - performance.now());
            if (!settling() || wait <= 0) throw new TransportNoResponders(subject);
            await sleep(wait);
            continue;
          }
          if (error instanceof ClosedConnectionError || error instanceof DrainingConnectionError) {
            throw new TransportUnavailable(subject, "the bus connection is closed", error);
          }
          throw error;
        }
      }
    },

    publish(subject, data, context) {
      try {
        connection.publish(subject, toWireBytes(data), { headers: toNatsHeaders(context) });
      } catch (error) {
        if (error instanceof ClosedConnectionError || error instanceof DrainingConnectionError) {
          return Promise.reject(new TransportUnavailable(subject, "the bus connection is closed", error));
        }
        throw error;
      }
      return Promise.resolve();
    },

    subscribe(subject, handler: TransportHandler, subscribeOptions): Promise<TransportSubscription> {
      const subscription = connection.subscribe(subject, {
        ...(subscribeOptions.queue === undefined ? {} : { queue: subscribeOptions.queue }),
        callback: (error, message) => {
          if (error) {
            options.onHandlerError?.(error, subject);
            return;
          }
          let data;
          try {
            data = fromWireBytes(message.data);
          } catch (frameError) {
            // Not one of our frames: nothing to hand the bus; a requester gets a frame-level error envelope.
            options.onHandlerError?.(frameError, subject);
            if (message.reply && frameError instanceof BusFrameError) {
              message.respond(toWireBytes(badFrameReply(frameError)));
            }
            return;
          }
          handler({ subject, data, headers: fromNatsHeaders(message.headers) }).then(
            (reply) => {
              if (reply !== undefined && message.reply) message.respond(toWireBytes(reply));
            },
            (handlerError: unknown) => options.onHandlerError?.(handlerError, subject),
          );
        },
      });
      // The server has the subscription once a round trip has passed: a request sent after this finds it.
      return connection.flush().then(() => ({
        unsubscribe: async () => {
          await subscription.drain();
        },
      }));
    },

    async close() {
      if (!connection.isClosed()) await connection.drain();
    },
  };
}

/**
 * A NATS connection as a service (its key, inbox prefix, back-off restarting from its base after each reconnect),
 * under the transport and e.g. for the ring's KV bucket.
 */
export async function connectNats(options: NatsTransportOptions): Promise<NatsConnection> {
  const reconnect = options.reconnect ?? defaultReconnect;
  let attempt = 0;
  const connection = await connect(
    natsConnectionOptions(options, () => reconnectDelayMs(attempt++, reconnect)),
  );
  void (async () => {
    for await (const status of connection.status()) if (status.type === "reconnect") attempt = 0;
  })();
  return connection;
}
