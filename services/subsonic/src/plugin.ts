// The OpenSubsonic API as a Fastify plugin under /rest: /rest/<method> and /rest/<method>.view, GET and POST
// (formPost), XML, JSON or JSONP; every request authenticated, rate limited per user and answered with a Subsonic
// status, never a 500.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RateLimitRule } from "@soundmesh/bus";
import { catalogChangedEvent, standingChangedEvent } from "@soundmesh/protocol";
import { KeyedBuckets, throttleAddressOf } from "@soundmesh/service-access-point";
import { SubsonicAuthenticator, credentialOf } from "./auth";
import { SENT, type MethodContext, type MethodTable, type SubsonicDeps } from "./context";
import { SubsonicError, subsonicErrorOf } from "./errors";
import { allMethods, adminOnlyMethods } from "./methods";
import { extensions } from "./methods/system";
import { Params } from "./params";
import { envelope, isValidCallback, sendBody, sendError, type Format } from "./response";
import { SharedState } from "./shared-state";
import { registerSharePage } from "./share-page";
import { Transcoder } from "./transcoder";

export interface SubsonicPluginOptions extends SubsonicDeps {
  /** Requests per user (per address until the credential checks out), as the rest of the server's HTTP. */
  rateLimit: RateLimitRule;
  nowMs?: () => number;
}

const MAX_FORM_BYTES = 256 * 1024;

function formatOf(params: Params): { format: Format; callback?: string } {
  const f = params.optionalString("f", 20);
  if (f === "json") return { format: "json" };
  if (f === "jsonp") {
    const callback = params.optionalString("callback", 300);
    if (callback !== undefined && isValidCallback(callback)) return { format: "jsonp", callback };
    return { format: "json" };
  }
  return { format: "xml" };
}

/** Subsonic 1.x only: a client of another major version is told who must upgrade (20 or 30). */
function checkVersion(params: Params): void {
  const version = params.string("v", 20);
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(version.trim());
  if (!match) throw new SubsonicError(0, `Invalid parameter v: ${version}`);
  const major = Number(match[1]);
  if (major > 1) throw new SubsonicError(30);
  if (major < 1) throw new SubsonicError(20);
}

function paramsOf(request: FastifyRequest): Params {
  const url = new URL(request.url, "http://localhost");
  const entries: Array<[string, string]> = [...url.searchParams];
  if (typeof request.body === "string") entries.push(...new URLSearchParams(request.body));
  return Params.from(entries);
}

export function registerSubsonic(app: FastifyInstance, options: SubsonicPluginOptions): void {
  const nowMs = options.nowMs ?? (() => performance.now());
  const { bus, logger } = options;
  const authenticator = new SubsonicAuthenticator(bus);
  const buckets = new KeyedBuckets(options.rateLimit, nowMs, 50_000);
  const state = new SharedState();
  const transcoder = new Transcoder({
    cacheDir: options.cacheDir,
    cacheMaxBytes: options.cacheMaxBytes,
    maxRunning: options.maxTranscodes,
    maxPerUser: options.maxTranscodesPerUser,
    logger,
  });
  const methods: MethodTable = allMethods;
  registerSharePage(app, {
    bus,
    logger,
    transcoder,
    reader: options.reader,
    rateLimit: options.rateLimit,
    nowMs,
  });

  app.register(
    async (scope) => {
      scope.addContentTypeParser(
        "application/x-www-form-urlencoded",
        { parseAs: "string", bodyLimit: MAX_FORM_BYTES },
        (_request, body, done) => done(null, body),
      );
      const standing = await bus.subscribe(standingChangedEvent, (change) =>
        authenticator.forgetUser(change.userId),
      );
      const catalog = await bus.subscribe(catalogChangedEvent, () => state.catalogChanged());
      scope.addHook("onClose", async () => {
        await standing.unsubscribe();
        await catalog.unsubscribe();
      });

      const handle = async (request: FastifyRequest<{ Params: { method: string } }>, reply: FastifyReply) => {
        let format: Format = "xml";
        let callback: string | undefined;
        try {
          const params = paramsOf(request);
          ({ format, callback } = formatOf(params));
          const name = request.params.method.replace(/\.view$/, "");
          // The spec has clients ask for the extensions before signing in.
          if (name === "getOpenSubsonicExtensions")
            return sendBody(reply, format, envelope("ok", { openSubsonicExtensions: extensions }), callback);
          const address = throttleAddressOf(request.ip);
          if (!buckets.canTake(`address:${address}`)) return tooMany(reply, format, callback);
          let identity;
          try {
            identity = await authenticator.authenticate(credentialOf(params), address, request.id);
          } catch (error) {
            buckets.tryTake(`address:${address}`);
            throw error;
          }
          if (!buckets.tryTake(`user:${identity.user.id}`)) return tooMany(reply, format, callback);
          checkVersion(params);
          const method = Object.hasOwn(methods, name) ? methods[name] : undefined;
          if (!method) throw new SubsonicError(70, `Unknown method: ${name.slice(0, 80)}`);
          if (adminOnlyMethods.has(name) && identity.user.role !== "admin") throw new SubsonicError(50);
          const context: MethodContext = {
            params,
            identity,
            request,
            reply,
            deps: options,
            state,
            transcoder,
            call: (contract, method, callParams) =>
              bus.request(contract, method, callParams, {
                traceId: request.id,
                userId: identity.user.id,
                role: identity.user.role,
                sessionId: identity.sessionId,
                timeoutMs: options.requestTimeoutMs,
              }),
          };
          const body = await method(context);
          if (body === SENT) return reply;
          return sendBody(reply, format, envelope("ok", body), callback);
        } catch (error) {
          if (reply.sent) {
            logger.warn({ err: error, traceId: request.id }, "Subsonic reply failed after it started");
            return reply;
          }
          const { error: subsonicError, isInternal } = subsonicErrorOf(error);
          if (isInternal) logger.error({ err: error, traceId: request.id }, "Subsonic method failed");
          // Headers set for audio that never went out (content-type, length) must not leak into the error.
          reply.removeHeader("content-length").removeHeader("content-range").removeHeader("accept-ranges");
          return sendError(reply.code(200), format, subsonicError, callback);
        }
      };
      // Fastify's own refusals inside /rest (a body too large, an unknown content type) answer as Subsonic too.
      scope.setErrorHandler((error: Error, request, reply) => {
        const format = /[?&]f=json(p)?(&|$)/.test(request.url) ? "json" : "xml";
        logger.info({ err: error, traceId: request.id }, "Subsonic request refused");
        return sendError(reply.code(200), format, new SubsonicError(0, error.message.slice(0, 200)));
      });
      scope.get("/:method", handle);
      scope.post("/:method", handle);
    },
    { prefix: "/rest" },
  );
}

function tooMany(reply: FastifyReply, format: Format, callback: string | undefined) {
  return sendError(
    reply.code(429).header("retry-after", "1"),
    format,
    new SubsonicError(0, "Too many requests; slow down"),
    callback,
  );
}
