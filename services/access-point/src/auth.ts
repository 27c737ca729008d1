// Finds and checks the caller's credentials (session cookie or bearer token) through the user service.
import type { FastifyRequest } from "fastify";
import { AppError, userContract, type UserRecord } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";

export const SESSION_COOKIE = "sm_session";

export interface Identity {
  user: UserRecord;
  sessionId: string;
  token: string;
}

export function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith("Bearer ")) return header.slice("Bearer ".length).trim();
  return request.cookies[SESSION_COOKIE];
}

export async function authenticate(bus: ServiceBus, request: FastifyRequest): Promise<Identity> {
  const token = tokenOf(request);
  if (!token) throw new AppError("UNAUTHENTICATED");
  if (token.length < 16 || token.length > 200) throw new AppError("UNAUTHENTICATED");
  const { user, sessionId } = await bus.request(
    userContract,
    "authenticate",
    { token },
    { traceId: request.id },
  );
  return { user, sessionId, token };
}
