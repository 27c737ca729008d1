// The user's own API tokens: made with an optional expiry, listed while they work, revoked one by one.
import { randomUUID } from "node:crypto";
import {
  AppError,
  type ApiTokenInfo,
  type CallContext,
  type HandlersOf,
  type StandingChangeKind,
  type UserContract,
} from "@soundmesh/protocol";
import type { StandingChange, StandingNote, StoredCredential, StoredUser, UserStore } from "./store";
import { hashToken, newApiToken } from "./tokens";

const dayMs = 24 * 3600_000;

export interface ApiTokenDeps {
  store: UserStore;
  clock: { now(): number };
  maxPerUser: number;
  activeUser(ctx: CallContext): Promise<StoredUser>;
  /** Announces a revocation the store has recorded. */
  revoked(change: StandingChange, user: StoredUser, traceId: string): Promise<void>;
  note(kind: StandingChangeKind): StandingNote;
}

type ApiTokenHandlers = Pick<HandlersOf<UserContract>, "createApiToken" | "listApiTokens" | "revokeApiToken">;

function infoOf(token: StoredCredential): ApiTokenInfo {
  return {
    id: token.id,
    label: token.label ?? "",
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt,
    expiresAt: token.expiresAt,
  };
}

export function createApiTokenHandlers(deps: ApiTokenDeps): ApiTokenHandlers {
  const { store, clock } = deps;

  /** Expired tokens no longer work; they stay in the table only until the next prune. */
  async function liveTokens(userId: string): Promise<StoredCredential[]> {
    const now = clock.now();
    const tokens = await store.listCredentials(userId, "api");
    return tokens.filter((token) => token.expiresAt === null || token.expiresAt > now);
  }

  return {
    async createApiToken({ label, expiresInDays }, ctx) {
      const user = await deps.activeUser(ctx);
      if ((await liveTokens(user.id)).length >= deps.maxPerUser) {
        throw new AppError("CONFLICT", `At most ${deps.maxPerUser} API tokens per user; revoke one first`);
      }
      const token = newApiToken();
      const now = clock.now();
      const credential: StoredCredential = {
        id: randomUUID(),
        userId: user.id,
        kind: "api",
        tokenHash: hashToken(token),
        label,
        createdAt: now,
        expiresAt: expiresInDays === undefined ? null : now + expiresInDays * dayMs,
        lastUsedAt: null,
      };
      await store.insertCredential(credential);
      return { ...infoOf(credential), token };
    },

    async listApiTokens(_params, ctx) {
      const user = await deps.activeUser(ctx);
      return (await liveTokens(user.id)).map(infoOf);
    },

    async revokeApiToken({ id }, ctx) {
      const user = await deps.activeUser(ctx);
      const filter = { userId: user.id, kind: "api" as const, ids: [id] };
      const ended = await store.deleteCredentials(filter, deps.note("token-revoked"));
      if (!ended) throw new AppError("NOT_FOUND", "No such API token");
      await deps.revoked(ended, user, ctx.traceId);
      return { ok: true as const };
    },
  };
}
