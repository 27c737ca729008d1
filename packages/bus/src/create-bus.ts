// The bus policy layer over any transport: contracts checked on both ends, manifests enforced, edges limited and measured.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  AppError,
  issueDetails,
  toAppError,
  type CallContext,
  type EventContract,
  type MethodContract,
  type ServiceContract,
  type WireError,
} from "@soundmesh/protocol";
import { BusFrameError, checkedFrame, decode, encode, type BusFrame } from "./codec";
import { EdgeMetrics } from "./edge-metrics";
import { EdgeRateLimiter, defaultRateLimits, type RateLimitConfig } from "./rate-limit";
import {
  TransportForbidden,
  TransportNoResponders,
  TransportTimeout,
  TransportUnavailable,
  eventSubject,
  instanceSubject,
  isInstanceId,
  requestSubject,
  type MessageHeaders,
  type Transport,
  type TransportMessage,
} from "./transport";
import type {
  Bus,
  EventHandler,
  RequestOptions,
  ServeOptions,
  ServiceBus,
  ServiceManifest,
  Subscription,
} from "./types";

export interface BusOptions {
  transport: Transport;
  logger?: Logger;
  rateLimits?: RateLimitConfig;
  /** prom-client registry to export edge counters and histograms to. */
  registry?: Registry;
  defaultTimeoutMs?: number;
  nowMs?: () => number;
  /**
   * Every service's manifest. When given, a callee also checks the caller named in the request's headers: a caller
   * whose manifest does not list the callee (or that has no manifest) is answered FORBIDDEN_EDGE, even if its own
   * bus let the request out. Services connected to this bus count as known too.
   */
  manifests?: readonly ServiceManifest[];
}

type Reply = { ok: true; result: unknown } | { ok: false; error: WireError };

export function createBus(options: BusOptions): Bus {
  const { transport, logger } = options;
  const nowMs = options.nowMs ?? (() => performance.now());
  const metrics = new EdgeMetrics(options.registry);
  const limiter = new EdgeRateLimiter(options.rateLimits ?? defaultRateLimits, nowMs);
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 5_000;
  const knownManifests = new Map((options.manifests ?? []).map((m) => [m.service, m] as const));
  // In one process, what one end checked is handed to the other as it is: a big request (500 playlist operations)
  // and its reply are then checked once, not twice, and never encoded to JSON and parsed back.
  const inProcess = transport.carriesCheckedValues === true;

  /** The callee's own check of the caller, when the manifests are known; undefined when the call may go on. */
  function calleeRefusal(callee: string, caller: string): AppError | undefined {
    if (!options.manifests || caller === callee) return undefined;
    const manifest = knownManifests.get(caller);
    if (manifest?.calls.includes(callee)) return undefined;
    return new AppError("FORBIDDEN_EDGE", `${callee} does not answer ${caller} (not in its manifest)`);
  }

  function connect(manifest: ServiceManifest): ServiceBus {
    const caller = manifest.service;
    if (options.manifests && !knownManifests.has(caller)) knownManifests.set(caller, manifest);
    const allowedCallees = new Set([caller, ...manifest.calls]);

    async function request(
      contract: ServiceContract,
      method: string,
      params: unknown,
      requestOptions: RequestOptions = {},
    ): Promise<unknown> {
      const callee = contract.service;
      const methodContract: MethodContract | undefined = Object.hasOwn(contract.methods, method)
        ? contract.methods[method]
        : undefined;
      if (!methodContract) throw new AppError("UNKNOWN_METHOD", `${callee} has no method ${method}`);
      if (!allowedCallees.has(callee)) {
        metrics.record(caller, callee, method, "forbidden");
        logger?.warn({ caller, callee, method }, "call outside the manifest refused");
        throw new AppError("FORBIDDEN_EDGE", `${caller} may not call ${callee} (not in its manifest)`);
      }
      if (!limiter.allow(caller, callee)) {
        metrics.record(caller, callee, method, "rate_limited");
        throw new AppError("RATE_LIMITED", `rate limit of the edge ${caller}->${callee} exceeded`);
      }
      const parsed = methodContract.params.safeParse(params);
      if (!parsed.success) {
        metrics.record(caller, callee, method, "error");
        throw new AppError("VALIDATION_FAILED", `invalid parameters for ${callee}.${method}`, {
          details: issueDetails(parsed.error),
        });
      }
      const headers: MessageHeaders = { caller, traceId: requestOptions.traceId ?? randomUUID() };
      if (requestOptions.userId !== undefined) headers.userId = requestOptions.userId;
      if (requestOptions.role !== undefined) headers.role = requestOptions.role;
      if (requestOptions.sessionId !== undefined) headers.sessionId = requestOptions.sessionId;
      if (requestOptions.peerId !== undefined) headers.peerId = requestOptions.peerId;
      const timeoutMs = requestOptions.timeoutMs ?? defaultTimeoutMs;
      const { instance } = requestOptions;
      if (instance !== undefined && !isInstanceId(instance)) {
        throw new AppError("VALIDATION_FAILED", `an instance id is 1-64 letters, digits, _ or -`);
      }
      const subject =
        instance === undefined ? requestSubject(callee, method) : instanceSubject(callee, method, instance);
      const startedMs = nowMs();
      let reply: Reply;
      let replyChecked = false;
      try {
        const frame = await transport.request(
          subject,
          inProcess ? checkedFrame(parsed.data) : encode(parsed.data),
          headers,
          timeoutMs,
        );
        // A checked reply comes only from a callee's bus in this process, which checked its result already.
        replyChecked = inProcess && frame.checked !== undefined;
        reply = (replyChecked ? frame.checked!.value : decode(frame)) as Reply;
      } catch (error) {
        if (error instanceof TransportForbidden) {
          metrics.record(caller, callee, method, "forbidden");
          logger?.warn({ caller, callee, method }, "the broker refused a call outside the manifest");
          throw new AppError("FORBIDDEN_EDGE", `the broker refused ${caller} -> ${callee}.${method}`, {
            cause: error,
          });
        }
        if (error instanceof TransportTimeout) {
          metrics.record(caller, callee, method, "timeout", nowMs() - startedMs);
          throw new AppError("TIMEOUT", `${callee}.${method} did not answer within ${timeoutMs} ms`, {
            cause: error,
          });
        }
        metrics.record(caller, callee, method, "error", nowMs() - startedMs);
        if (error instanceof BusFrameError) {
          throw new AppError("BAD_FRAME", `${callee}.${method} answered with a broken frame`, {
            cause: error,
          });
        }
        if (error instanceof TransportNoResponders) {
          const who = instance === undefined ? callee : `${callee} ${instance}`;
          throw new AppError("UNAVAILABLE", `${who} is not running`, { cause: error });
        }
        if (error instanceof TransportUnavailable) {
          throw new AppError("UNAVAILABLE", error.message, { cause: error });
        }
        throw toAppError(error);
      }
      const elapsedMs = nowMs() - startedMs;
      if (!reply.ok) {
        metrics.record(caller, callee, method, "error", elapsedMs);
        throw AppError.fromWire(reply.error);
      }
      if (replyChecked) {
        metrics.record(caller, callee, method, "ok", elapsedMs);
        return reply.result;
      }
      const result = methodContract.result.safeParse(reply.result);
      if (!result.success) {
        metrics.record(caller, callee, method, "error", elapsedMs);
        logger?.error({ callee, method, issues: issueDetails(result.error) }, "reply breaks its contract");
        throw new AppError("INTERNAL", `${callee}.${method} answered outside its contract`);
      }
      metrics.record(caller, callee, method, "ok", elapsedMs);
      return result.data;
    }

    const contextOf = (headers: MessageHeaders): CallContext => {
      const ctx: CallContext = { caller: headers.caller, traceId: headers.traceId };
      if (headers.userId !== undefined) ctx.userId = headers.userId;
      if (headers.role === "admin" || headers.role === "user") ctx.role = headers.role;
      if (headers.sessionId !== undefined) ctx.sessionId = headers.sessionId;
      if (headers.peerId !== undefined) ctx.peerId = headers.peerId;
      return ctx;
    };

    async function answer(
      contract: ServiceContract,
      method: string,
      handler: (params: unknown, ctx: CallContext) => unknown,
      message: TransportMessage,
    ): Promise<BusFrame> {
      const methodContract = contract.methods[method]!;
      const ctx = contextOf(message.headers);
      const refusal = calleeRefusal(contract.service, ctx.caller);
      if (refusal) {
        metrics.record(ctx.caller, contract.service, method, "forbidden");
        logger?.warn({ caller: ctx.caller, callee: contract.service, method }, "callee refused a caller");
        return encode({ ok: false, error: refusal.toWire() } satisfies Reply);
      }
      // Checked by the caller's bus in this process (see checkedFrame); anything else is decoded and checked here.
      const checked = inProcess ? message.data.checked : undefined;
      try {
        let params: unknown;
        if (checked) params = checked.value;
        else {
          const parsed = methodContract.params.safeParse(decode(message.data));
          if (!parsed.success) {
            throw new AppError("VALIDATION_FAILED", `invalid parameters for ${contract.service}.${method}`, {
              details: issueDetails(parsed.error),
            });
          }
          params = parsed.data;
        }
        const output = methodContract.result.safeParse(await handler(params, ctx));
        if (!output.success) {
          logger?.error(
            { method, traceId: ctx.traceId, issues: issueDetails(output.error) },
            "handler result breaks its contract",
          );
          throw new AppError("INTERNAL");
        }
        const reply: Reply = { ok: true, result: output.data };
        return checked ? checkedFrame(reply) : encode(reply);
      } catch (error) {
        const appError =
          error instanceof BusFrameError ? new AppError("BAD_FRAME", error.message) : toAppError(error);
        if (appError.code === "INTERNAL") {
          logger?.error({ err: error, method, traceId: ctx.traceId, caller: ctx.caller }, "handler failed");
        }
        return encode({ ok: false, error: appError.toWire() } satisfies Reply);
      }
    }

    async function serve(
      contract: ServiceContract,
      handlers: Record<string, (params: unknown, ctx: CallContext) => unknown>,
      serveOptions: ServeOptions = {},
    ): Promise<Subscription> {
      if (contract.service !== caller) {
        throw new AppError("FORBIDDEN", `${caller} cannot serve the contract of ${contract.service}`);
      }
      const { instance } = serveOptions;
      if (instance !== undefined && !isInstanceId(instance)) {
        throw new AppError("VALIDATION_FAILED", `an instance id is 1-64 letters, digits, _ or -`);
      }
      const subscriptions = await Promise.all(
        Object.keys(contract.methods).flatMap((method) => {
          const handler = handlers[method];
          if (!handler) throw new AppError("INTERNAL", `${caller} has no handler for ${method}`);
          const onMessage = (message: TransportMessage) => answer(contract, method, handler, message);
          const shared = transport.subscribe(requestSubject(contract.service, method), onMessage, {
            queue: serveOptions.queue ?? contract.service,
          });
          if (instance === undefined) return [shared];
          return [
            shared,
            transport.subscribe(instanceSubject(contract.service, method, instance), onMessage, {}),
          ];
        }),
      );
      return { unsubscribe: async () => void (await Promise.all(subscriptions.map((s) => s.unsubscribe()))) };
    }

    async function publish(
      event: EventContract,
      payload: unknown,
      publishOptions: { traceId?: string } = {},
    ) {
      if (manifest.publishes && !manifest.publishes.includes(event.topic)) {
        throw new AppError("FORBIDDEN_EDGE", `${caller} does not declare that it publishes ${event.topic}`);
      }
      const parsed = event.payload.safeParse(payload);
      if (!parsed.success) {
        throw new AppError("VALIDATION_FAILED", `invalid payload for ${event.topic}`, {
          details: issueDetails(parsed.error),
        });
      }
      const headers: MessageHeaders = { caller, traceId: publishOptions.traceId ?? randomUUID() };
      // In one process every subscriber is handed this one checked value: handlers treat payloads as read-only.
      const frame = inProcess ? checkedFrame(parsed.data) : encode(parsed.data);
      await transport.publish(eventSubject(event.topic), frame, headers);
    }

    async function subscribe(
      event: EventContract,
      handler: EventHandler<EventContract>,
      subscribeOptions: { queue?: string } = {},
    ): Promise<Subscription> {
      if (manifest.subscribes && !manifest.subscribes.includes(event.topic)) {
        throw new AppError(
          "FORBIDDEN_EDGE",
          `${caller} does not declare that it subscribes to ${event.topic}`,
        );
      }
      return transport.subscribe(
        eventSubject(event.topic),
        async (message) => {
          const ctx = contextOf(message.headers);
          const checked = inProcess ? message.data.checked : undefined;
          let payload: unknown;
          if (checked) payload = checked.value;
          else {
            try {
              payload = decode(message.data);
            } catch (error) {
              logger?.warn(
                { err: error, topic: event.topic, from: ctx.caller },
                "event frame is broken; dropped",
              );
              return undefined;
            }
            const parsed = event.payload.safeParse(payload);
            if (!parsed.success) {
              logger?.warn(
                { topic: event.topic, traceId: ctx.traceId, from: ctx.caller },
                "event breaks its contract; dropped",
              );
              return undefined;
            }
            payload = parsed.data;
          }
          try {
            await handler(payload, ctx);
          } catch (error) {
            logger?.error({ err: error, topic: event.topic, traceId: ctx.traceId }, "event handler failed");
          }
          return undefined;
        },
        subscribeOptions.queue === undefined ? {} : { queue: subscribeOptions.queue },
      );
    }

    return { service: caller, request, serve, publish, subscribe } as ServiceBus;
  }

  return {
    connect,
    edges: () => metrics.snapshot(),
    close: () => transport.close(),
  };
}
