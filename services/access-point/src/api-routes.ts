// REST routes for signing in and out, first-run set-up and the current user; the session cookie's renewal.
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { AppError, issueDetails, userContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { SESSION_COOKIE, authenticate, tokenOf, type IdentityCache } from "./auth";
import { throttleAddressOf } from "./client-network";
import { registerSessionCookieRenewal, setSessionCookie } from "./session-cookie";

const credentials = z.object({ name: z.string().max(64), password: z.string().max(1024) });

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new AppError("VALIDATION_FAILED", "The body does not match the expected shape", {
      details: issueDetails(parsed.error),
    });
  }
  return parsed.data;
}

export interface ApiRouteOptions {
  bus: ServiceBus;
  identities: IdentityCache;
  secureCookies: boolean;
}

export function registerApiRoutes(
  app: FastifyInstance,
  { bus, secureCookies, identities }: ApiRouteOptions,
): void {
  registerSessionCookieRenewal(app, secureCookies);

  const login = async (name: string, password: string, address: string, reply: FastifyReply) => {
    const result = await bus.request(userContract, "login", {
      name,
      password,
      address: throttleAddressOf(address),
    });
    setSessionCookie(reply, secureCookies, result.token, result.session.expiresAt);
    return { user: result.user, token: result.token, expiresAt: result.session.expiresAt };
  };

  app.get("/api/setup", async () => bus.request(userContract, "setupStatus", {}));

  app.post("/api/setup", async (request, reply) => {
    const body = parseBody(credentials, request.body);
    await bus.request(userContract, "createFirstAdmin", body, { traceId: request.id });
    return login(body.name, body.password, request.ip, reply);
  });

  app.post("/api/login", async (request, reply) => {
    const { name, password } = parseBody(credentials, request.body);
    return login(name, password, request.ip, reply);
  });

  app.post("/api/logout", async (request, reply) => {
    const token = tokenOf(request);
    if (token && token.length >= 16 && token.length <= 200) {
      identities.forgetToken(token);
      await bus.request(userContract, "logout", { token });
    }
    reply.clearCookie(SESSION_COOKIE, { path: "/" });
    return { ok: true };
  });

  // The player asks this at every start: a session in the second half of its life slides, and so does its cookie.
  app.get("/api/me", async (request) => {
    const identity = await authenticate(bus, request);
    return identity.user;
  });
}
