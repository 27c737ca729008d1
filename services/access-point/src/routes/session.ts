// The session area: signing in and out, first-run set-up, the current user, and the multiplexed WebSocket.
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { z } from "zod";
import { userContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { SESSION_COOKIE, identityOf, tokenOf, type Identity, type IdentityCache } from "../auth";
import { throttleAddressOf } from "../client-network";
import type { ZodTypeProvider } from "../route-schemas";
import { setSessionCookie } from "../session-cookie";

const credentials = z
  .object({ name: z.string().max(64), password: z.string().max(1024) })
  .describe("The body does not match the expected shape");

export interface SessionRouteOptions {
  bus: ServiceBus;
  identities: IdentityCache;
  secureCookies: boolean;
  /**
   * Holds a place among the user's sockets from before the upgrade until the connection closes; throws
   * RATE_LIMITED (429, before the upgrade) when the user or the server has as many sockets as allowed.
   */
  reserveSocket(identity: Identity): () => void;
  /** An upgraded, authenticated socket: the access point's session from here on. */
  openSocket(socket: WebSocket, identity: Identity, request: FastifyRequest): void;
}

export const sessionRoutes: FastifyPluginCallback<SessionRouteOptions> = (scope, options, done) => {
  const { bus, identities, secureCookies } = options;
  const app = scope.withTypeProvider<ZodTypeProvider>();

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

  app.post("/api/setup", { schema: { body: credentials } }, async (request, reply) => {
    await bus.request(userContract, "createFirstAdmin", request.body, { traceId: request.id });
    return login(request.body.name, request.body.password, request.ip, reply);
  });

  app.post("/api/login", { schema: { body: credentials } }, async (request, reply) =>
    login(request.body.name, request.body.password, request.ip, reply),
  );

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
  app.get("/api/me", { config: { auth: { fresh: true } } }, (request) => identityOf(request).user);

  app.get(
    "/ws",
    {
      websocket: true,
      config: { auth: { fresh: true } },
      preValidation: (request, _reply, next) => {
        if (request.headers.upgrade?.toLowerCase() !== "websocket") return next();
        try {
          request.raw.socket.once("close", options.reserveSocket(identityOf(request)));
          next();
        } catch (error) {
          next(error as Error);
        }
      },
    },
    (socket, request) => options.openSocket(socket, identityOf(request), request),
  );
  done();
};
