// NATS transport for cluster mode: subjects svc.<service>.<method> with a queue group per service, headers carry
// context, and each message is one binary frame (envelope + raw bytes, see codec.ts).
import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { RequestError, TimeoutError } from "@nats-io/transport-node";
import { AppError } from "@soundmesh/protocol";
import { BusFrameError, encode, fromWireBytes, toWireBytes } from "./codec";
import {
  TransportNoResponders,
  TransportTimeout,
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

export interface NatsTransportOptions {
  servers: string | string[];
  name?: string;
  /** Called when a handler throws outside the bus policy layer (it normally never does). */
  onHandlerError?: (error: unknown, subject: string) => void;
}

export async function createNatsTransport(options: NatsTransportOptions): Promise<Transport> {
  const connection: NatsConnection = await connect({
    servers: options.servers,
    name: options.name ?? "soundmesh",
    maxReconnectAttempts: -1,
  });

  return {
    async request(subject, data, context, timeoutMs) {
      try {
        const reply = await connection.request(subject, toWireBytes(data), {
          timeout: timeoutMs,
          headers: toNatsHeaders(context),
        });
        return fromWireBytes(reply.data);
      } catch (error) {
        if (error instanceof RequestError && error.isNoResponders()) throw new TransportNoResponders(subject);
        if (
          error instanceof TimeoutError ||
          (error instanceof RequestError && error.cause instanceof TimeoutError)
        ) {
          throw new TransportTimeout(subject, timeoutMs);
        }
        throw error;
      }
    },

    publish(subject, data, context) {
      connection.publish(subject, toWireBytes(data), { headers: toNatsHeaders(context) });
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
      return Promise.resolve({
        unsubscribe: async () => {
          await subscription.drain();
        },
      });
    },

    async close() {
      await connection.drain();
    },
  };
}
