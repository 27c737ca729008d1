// Response headers that keep the player's pages to themselves: a strict Content-Security-Policy (no inline or foreign
// scripts, no framing), nosniff, no referrer, HSTS behind HTTPS, and helmet's other defaults.
import fastifyHelmet from "@fastify/helmet";
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

export async function registerSecurityHeaders(
  app: FastifyInstance,
  { isHttpsOnly }: SecurityHeaderOptions,
): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    // Set below, per request: its connect-src names the request's own WebSocket origin.
    contentSecurityPolicy: false,
    strictTransportSecurity: isHttpsOnly ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    referrerPolicy: { policy: "no-referrer" },
    xFrameOptions: { action: "deny" },
  });
  // Built once per origin the server is reached at (a handful), not on every piece request.
  const policies = new Map<string | undefined, string>();
  app.addHook("onRequest", (request, reply, done) => {
    const own = ownOriginOf(request);
    let policy = policies.get(own);
    if (policy === undefined) {
      policy = contentSecurityPolicy(request);
      if (policies.size < 64) policies.set(own, policy);
    }
    void reply.header("content-security-policy", policy);
    done();
  });
}
