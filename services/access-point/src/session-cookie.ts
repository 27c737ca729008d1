// The session cookie: set at sign-in, and set again whenever a request renews the session it holds — HTTP
// responses and the WebSocket upgrade alike — so the browser's copy expires with the session, not before it.
import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply } from "fastify";
import { SESSION_COOKIE } from "./auth";

export function sessionCookieOptions(secure: boolean, expiresAt: number) {
  return {
    httpOnly: true,
    sameSite: "strict" as const,
    secure,
    path: "/",
    expires: new Date(expiresAt),
  };
}

export function setSessionCookie(
  reply: FastifyReply,
  secure: boolean,
  token: string,
  expiresAt: number,
): FastifyReply {
  return reply.setCookie(SESSION_COOKIE, token, sessionCookieOptions(secure, expiresAt));
}

/** Needs @fastify/cookie and @fastify/websocket registered on `app` first. */
export function registerSessionCookieRenewal(app: FastifyInstance, secure: boolean): void {
  // Not async: a promise on every response (each audio piece) for the few that renew a session.
  app.addHook("onSend", (request, reply, payload, done) => {
    // Sign-in and sign-out set the cookie themselves and never authenticate, so nothing here overrides them.
    const renewed = request.renewedSession;
    if (renewed) setSessionCookie(reply, secure, renewed.token, renewed.expiresAt);
    done(null, payload);
  });
  // An upgrade never reaches onSend: ws writes the 101 response itself, with the headers gathered here.
  const upgrades = new WeakMap<IncomingMessage, string>();
  app.addHook("preHandler", (request, _reply, done) => {
    const renewed = request.renewedSession;
    if (renewed && request.headers.upgrade?.toLowerCase() === "websocket") {
      const options = sessionCookieOptions(secure, renewed.expiresAt);
      upgrades.set(request.raw, app.serializeCookie(SESSION_COOKIE, renewed.token, options));
    }
    done();
  });
  app.websocketServer.on("headers", (headers: string[], raw: IncomingMessage) => {
    const cookie = upgrades.get(raw);
    if (cookie !== undefined) headers.push(`Set-Cookie: ${cookie}`);
  });
}
