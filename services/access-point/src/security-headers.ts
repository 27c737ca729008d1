// Response headers that keep the player's pages to themselves: a strict Content-Security-Policy (no inline or foreign
// scripts, no framing), nosniff, no referrer, HSTS behind HTTPS, and helmet's other defaults.
import helmet from "helmet";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ownOriginOf } from "./origin-check";

export interface PolicyExtras {
  /** More script sources, e.g. the 'sha256-…' of a page's own inline script. */
  scriptSources?: readonly string[];
  styleSources?: readonly string[];
}

/** The policy for a response to this request: the WebSocket origin is the page's own, in ws: or wss:. */
export function contentSecurityPolicy(request: FastifyRequest, extras: PolicyExtras = {}): string {
  const own = ownOriginOf(request);
  const socketOrigin = own?.replace(/^http/, "ws");
  const directives: Array<[string, readonly string[]]> = [
    ["default-src", ["'self'"]],
    ["script-src", ["'self'", ...(extras.scriptSources ?? [])]],
    ["style-src", ["'self'", ...(extras.styleSources ?? [])]],
    // Covers and icons from the server; blob: and data: for images the player makes itself.
    ["img-src", ["'self'", "blob:", "data:"]],
    // The engine appends audio to a MediaSource, which the <audio> element plays from a blob: URL.
    ["media-src", ["'self'", "blob:"]],
    ["connect-src", ["'self'", ...(socketOrigin ? [socketOrigin] : [])]],
    ["worker-src", ["'self'"]],
    ["manifest-src", ["'self'"]],
    ["font-src", ["'self'"]],
    ["object-src", ["'none'"]],
    ["base-uri", ["'self'"]],
    ["form-action", ["'self'"]],
    ["frame-ancestors", ["'none'"]],
  ];
  return directives.map(([name, sources]) => `${name} ${sources.join(" ")}`).join("; ");
}

export interface SecurityHeaderOptions {
  /** Cookies are Secure, so the site is served over HTTPS: tell browsers to come back only that way. */
  isHttpsOnly: boolean;
}

/**
 * Helmet's headers and the policy on every response, from one hook. Helmet's middleware is built once here: the Fastify
 * plugin built it anew on every request, in two hooks (one async), the largest part of the piece route's own work in
 * its profile. The headers are the same constants either way.
 */
export function registerSecurityHeaders(app: FastifyInstance, { isHttpsOnly }: SecurityHeaderOptions): void {
  const helmetHeaders = helmet({
    // Set below, per request: its connect-src names the request's own WebSocket origin.
    contentSecurityPolicy: false,
    strictTransportSecurity: isHttpsOnly ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    referrerPolicy: { policy: "no-referrer" },
    xFrameOptions: { action: "deny" },
  });
  // Built once per address the server is reached at (a handful), keyed by the scheme and Host as received, so the
  // origin is parsed only when a new one shows up, not on every piece request.
  const policies = new Map<string, string>();
  app.addHook("onRequest", (request, reply, done) => {
    // Helmet's middleware only sets headers, synchronously, and calls on at once; a throw reaches Fastify's handler.
    helmetHeaders(request.raw, reply.raw, () => undefined);
    const reachedAs = `${request.protocol}://${request.host}`;
    let policy = policies.get(reachedAs);
    if (policy === undefined) {
      policy = contentSecurityPolicy(request);
      if (policies.size < 64) policies.set(reachedAs, policy);
    }
    void reply.header("content-security-policy", policy);
    done();
  });
}
