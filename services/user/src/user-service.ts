// The user service: accounts, argon2id passwords, sessions and API tokens, roles; serves userContract on the bus.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import {
  AppError,
  sessionsRevokedEvent,
  userContract,
  type CallContext,
  type HandlersOf,
  type Role,
  type UserContract,
  type UserRecord,
} from "@soundmesh/protocol";
import { resolveUserConfig, type UserServiceConfigInput } from "./config";
import { LoginThrottle } from "./login-throttle";
import { createPasswordHasher } from "./passwords";
import { nameKeyOf, type CredentialKind, type StoredUser, type UserChange, type UserStore } from "./store";
import { hashToken, newApiToken, newSessionToken } from "./tokens";

export const userManifest = {
  service: "user",
  calls: [],
  publishes: ["user.sessionsRevoked"],
} as const satisfies ServiceManifest;

export interface Clock {
  now(): number;
}

export interface UserServiceDeps {
  config?: UserServiceConfigInput;
  logger: Logger;
  /** Already connected with userManifest. */
  bus: ServiceBus;
  store: UserStore;
  clock: Clock;
}

export interface UserService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<UserContract>;
  /** Deletes expired sessions and forgotten failure counters; runs every pruneIntervalMs while started. */
  prune(): Promise<void>;
}

const ok = { ok: true as const };

function recordOf(user: StoredUser): UserRecord {
  return {
    id: user.id,
    name: user.name,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt,
  };
}

export function createUserService({
  config: input,
  logger,
  bus,
  store,
  clock,
}: UserServiceDeps): UserService {
  const config = resolveUserConfig(input);
  const hasher = createPasswordHasher(config.argon2);
  const throttle = new LoginThrottle(store, config.loginThrottle);

  async function announceRevoked(userId: string, sessionIds: string[], traceId?: string): Promise<void> {
    if (sessionIds.length === 0) return;
    try {
      await bus.publish(
        sessionsRevokedEvent,
        { userId, sessionIds },
        traceId === undefined ? {} : { traceId },
      );
    } catch (error) {
      // The credentials are already gone from the store, so authentication refuses them anyway; the event
      // only makes access points close open sockets sooner. Failing the request here would misreport a revocation.
      logger.error({ err: error, userId, traceId }, "could not announce revoked sessions");
    }
  }

  async function activeUser(ctx: CallContext): Promise<StoredUser> {
    if (ctx.userId === undefined) throw new AppError("UNAUTHENTICATED", "This method needs a signed-in user");
    const user = await store.findUserById(ctx.userId);
    if (!user) throw new AppError("UNAUTHENTICATED", "The signed-in user no longer exists");
    if (user.disabled) throw new AppError("ACCOUNT_DISABLED");
    return user;
  }

  /** The access point checks adminOnly too; checking here as well keeps a wrong caller from getting through. */
  async function requireAdmin(ctx: CallContext): Promise<void> {
    if (ctx.role !== "admin") throw new AppError("FORBIDDEN", "This needs the admin role");
    // A user's role in the database wins over the role the caller remembers from sign-in.
    if (ctx.userId !== undefined) {
      const user = await store.findUserById(ctx.userId);
      if (!user || user.disabled || user.role !== "admin")
        throw new AppError("FORBIDDEN", "This needs the admin role");
    }
  }

  async function userByName(name: string): Promise<StoredUser> {
    const user = await store.findUserByName(name);
    if (!user) throw new AppError("NOT_FOUND", `No user named ${name}`);
    return user;
  }

  async function newUser(name: string, password: string, role: Role): Promise<StoredUser> {
    return {
      id: randomUUID(),
      name,
      role,
      disabled: false,
      passwordHash: await hasher.hash(password),
      createdAt: clock.now(),
    };
  }

  async function issueSession(userId: string) {
    const token = newSessionToken();
    const now = clock.now();
    const session = { id: randomUUID(), userId, createdAt: now, expiresAt: now + config.sessionTtlMs };
    await store.insertCredential({
      ...session,
      kind: "session",
      tokenHash: hashToken(token),
      label: null,
      lastUsedAt: now,
    });
    return { token, session };
  }

  async function changeUser(
    name: string,
    change: UserChange,
    revokeKinds: CredentialKind[],
    traceId: string,
  ) {
    const target = await userByName(name);
    const outcome = await store.changeUser(target.id, change, revokeKinds);
    if (outcome === "not-found") throw new AppError("NOT_FOUND", `No user named ${name}`);
    if (outcome === "last-admin")
      throw new AppError("CONFLICT", "The last enabled administrator must stay an enabled administrator");
    await announceRevoked(target.id, outcome.revokedIds, traceId);
    logger.info({ userId: target.id, change, revoked: outcome.revokedIds.length, traceId }, "user changed");
    return recordOf(outcome.user);
  }

  const handlers: HandlersOf<UserContract> = {
    async setupStatus() {
      return { needsSetup: !(await store.hasAdmin()) };
    },

    async createFirstAdmin({ name, password }, ctx) {
      if (await store.hasAdmin()) throw new AppError("SETUP_DONE");
      const admin = await newUser(name, password, "admin");
      if (!(await store.insertFirstAdmin(admin))) throw new AppError("SETUP_DONE");
      logger.info({ userId: admin.id, name, traceId: ctx.traceId }, "first administrator created");
      return recordOf(admin);
    },

    async login({ name, password, address }, ctx) {
      const accountKey = throttle.accountKey(nameKeyOf(name));
      const addressKey = throttle.addressKey(address);
      await throttle.begin([accountKey, addressKey], clock.now());
      const user = await store.findUserByName(name);
      const isValid = user
        ? await hasher.verify(user.passwordHash, password)
        : await hasher.verifyDummy(password);
      if (!user || !isValid) {
        logger.info({ address, isKnownName: user !== undefined, traceId: ctx.traceId }, "failed sign-in");
        throw new AppError("INVALID_CREDENTIALS");
      }
      await throttle.succeeded([accountKey], [addressKey]);
      if (user.disabled) throw new AppError("ACCOUNT_DISABLED");
      if (await hasher.needsRehash(user.passwordHash))
        await store.updatePasswordHash(user.id, await hasher.hash(password));
      const { token, session } = await issueSession(user.id);
      return { token, session, user: recordOf(user) };
    },

    async authenticate({ token }) {
      const found = await store.findCredential(hashToken(token));
      if (!found) throw new AppError("UNAUTHENTICATED", "Unknown or revoked token");
      const { credential, user } = found;
      const now = clock.now();
      if (credential.expiresAt !== null && credential.expiresAt <= now) throw new AppError("SESSION_EXPIRED");
      if (user.disabled) throw new AppError("ACCOUNT_DISABLED");
      // Sliding renewal: a session used in the second half of its life gets a full lifetime again.
      if (credential.expiresAt !== null && credential.expiresAt - now < config.sessionTtlMs / 2) {
        await store.touchCredential(credential.id, { expiresAt: now + config.sessionTtlMs, lastUsedAt: now });
      } else if (
        credential.kind === "api" &&
        (credential.lastUsedAt === null || now - credential.lastUsedAt >= config.apiTokenTouchIntervalMs)
      ) {
        await store.touchCredential(credential.id, { lastUsedAt: now });
      }
      return { user: recordOf(user), sessionId: credential.id, kind: credential.kind };
    },

    async logout({ token }, ctx) {
      const found = await store.findCredential(hashToken(token));
      // Only sign-in sessions end here; API tokens are revoked explicitly with revokeApiToken.
      if (found?.credential.kind === "session") {
        const ids = await store.deleteCredentials({ userId: found.user.id, ids: [found.credential.id] });
        await announceRevoked(found.user.id, ids, ctx.traceId);
      }
      return ok;
    },

    async setPassword({ name, password }, ctx) {
      const user = await userByName(name);
      const revoked = await store.replacePassword(user.id, await hasher.hash(password));
      await announceRevoked(user.id, revoked, ctx.traceId);
      logger.info({ userId: user.id, traceId: ctx.traceId }, "password set by an operator");
      return ok;
    },

    async lookupUsers({ names, ids }) {
      const found = await Promise.all([
        ...names.map((name) => store.findUserByName(name)),
        ...ids.map((id) => store.findUserById(id)),
      ]);
      return found.flatMap((user) => (user && !user.disabled ? [{ id: user.id, name: user.name }] : []));
    },

    async me(_params, ctx) {
      return recordOf(await activeUser(ctx));
    },

    async changePassword({ oldPassword, newPassword, keepSessionId }, ctx) {
      const user = await activeUser(ctx);
      // Guessing the old password through a stolen session is throttled like a sign-in.
      const accountKey = throttle.accountKey(nameKeyOf(user.name));
      await throttle.begin([accountKey], clock.now());
      if (!(await hasher.verify(user.passwordHash, oldPassword)))
        throw new AppError("INVALID_CREDENTIALS", "The old password is wrong");
      await throttle.succeeded([accountKey], []);
      // The session the change came through stays signed in; every other one ends.
      const revoked = await store.replacePassword(
        user.id,
        await hasher.hash(newPassword),
        keepSessionId ?? ctx.sessionId,
      );
      await announceRevoked(user.id, revoked, ctx.traceId);
      logger.info({ userId: user.id, revoked: revoked.length, traceId: ctx.traceId }, "password changed");
      return ok;
    },

    async revokeAllSessions(_params, ctx) {
      const user = await activeUser(ctx);
      const revoked = await store.deleteCredentials({ userId: user.id, kind: "session" });
      await announceRevoked(user.id, revoked, ctx.traceId);
      return { revoked: revoked.length };
    },

    async createApiToken({ label }, ctx) {
      const user = await activeUser(ctx);
      const existing = await store.listCredentials(user.id, "api");
      if (existing.length >= config.maxApiTokensPerUser) {
        throw new AppError(
          "CONFLICT",
          `At most ${config.maxApiTokensPerUser} API tokens per user; revoke one first`,
        );
      }
      const token = newApiToken();
      const id = randomUUID();
      await store.insertCredential({
        id,
        userId: user.id,
        kind: "api",
        tokenHash: hashToken(token),
        label,
        createdAt: clock.now(),
        expiresAt: null,
        lastUsedAt: null,
      });
      return { id, token, label };
    },

    async listApiTokens(_params, ctx) {
      const user = await activeUser(ctx);
      const tokens = await store.listCredentials(user.id, "api");
      return tokens.map((t) => ({
        id: t.id,
        label: t.label ?? "",
        createdAt: t.createdAt,
        lastUsedAt: t.lastUsedAt,
      }));
    },

    async revokeApiToken({ id }, ctx) {
      const user = await activeUser(ctx);
      const revoked = await store.deleteCredentials({ userId: user.id, kind: "api", ids: [id] });
      if (revoked.length === 0) throw new AppError("NOT_FOUND", "No such API token");
      await announceRevoked(user.id, revoked, ctx.traceId);
      return ok;
    },

    async createUser({ name, password, role }, ctx) {
      await requireAdmin(ctx);
      const user = await newUser(name, password, role);
      if (!(await store.insertUser(user)))
        throw new AppError("ALREADY_EXISTS", `A user named ${name} already exists`);
      logger.info({ userId: user.id, name, role, by: ctx.userId, traceId: ctx.traceId }, "user created");
      return recordOf(user);
    },

    async listUsers(_params, ctx) {
      await requireAdmin(ctx);
      return (await store.listUsers()).map(recordOf);
    },

    async setDisabled({ name, disabled }, ctx) {
      await requireAdmin(ctx);
      // A disabled account loses every credential, API tokens included: disabling means cut off now.
      return changeUser(name, { disabled }, disabled ? ["session", "api"] : [], ctx.traceId);
    },

    async setRole({ name, role }, ctx) {
      await requireAdmin(ctx);
      const target = await userByName(name);
      if (target.role === role) return recordOf(target);
      // Sessions remember the role they signed in with, so a role change ends them.
      return changeUser(name, { role }, ["session"], ctx.traceId);
    },
  };

  let subscription: Subscription | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let pruning: Promise<void> | undefined;

  async function prune(): Promise<void> {
    const now = clock.now();
    const sessions = await store.deleteExpiredCredentials(now);
    const counters = await store.pruneLoginCounters(now - config.loginThrottle.forgetAfterMs);
    if (sessions + counters > 0)
      logger.debug({ sessions, counters }, "pruned expired sessions and failure counters");
  }

  return {
    handlers,
    prune,
    async start() {
      if (subscription) return;
      await hasher.prepare();
      subscription = await bus.serve(userContract, handlers);
      pruneTimer = setInterval(() => {
        if (pruning) return;
        pruning = prune()
          .catch((error: unknown) => logger.error({ err: error }, "pruning failed"))
          .finally(() => (pruning = undefined));
      }, config.pruneIntervalMs);
      pruneTimer.unref();
    },
    async stop() {
      clearInterval(pruneTimer);
      pruneTimer = undefined;
      await pruning;
      const current = subscription;
      subscription = undefined;
      await current?.unsubscribe();
    },
  };
}
