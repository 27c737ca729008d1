// The user service: accounts, argon2id passwords, sessions and API tokens, roles; serves userContract on the bus.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import {
  AppError,
  userContract,
  type CallContext,
  type HandlersOf,
  type Role,
  type StandingChangeKind,
  type UserContract,
  type UserRecord,
} from "@soundmesh/protocol";
import { createApiTokenHandlers } from "./api-tokens";
import { resolveUserConfig, type UserServiceConfigInput } from "./config";
import { LoginThrottle } from "./login-throttle";
import { createPasswordHasher } from "./passwords";
import { StandingOutbox } from "./standing-outbox";
import { createSubsonicPasswordHandlers } from "./subsonic-passwords";
import {
  nameKeyOf,
  type CredentialKind,
  type StandingNote,
  type StoredUser,
  type UserChange,
  type UserStore,
} from "./store";
import { hashToken, newSessionToken } from "./tokens";

export const userManifest = {
  service: "user",
  calls: [],
  publishes: ["user.standingChanged"],
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
  /**
   * Whether start() follows the outbox and announces changes other processes made (default true). A short-lived
   * instance (the CLI's) leaves that to the running server, whose access point holds the sockets.
   */
  followStanding?: boolean;
  /** The server's 32-byte key under which Subsonic passwords are stored; without it they cannot be set or used. */
  subsonicKey?: Uint8Array;
}

export interface UserService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<UserContract>;
  /** Deletes expired credentials, forgotten failure counters, old standing changes; every pruneIntervalMs. */
  prune(): Promise<void>;
  /** Announces standing changes other processes recorded since the last poll; every standingPollMs. */
  pollStanding(): Promise<number>;
}

const ok = { ok: true as const };

export function recordOf(user: StoredUser): UserRecord {
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
  followStanding = true,
  subsonicKey,
}: UserServiceDeps): UserService {
  const config = resolveUserConfig(input);
  const hasher = createPasswordHasher(config.argon2);
  const throttle = new LoginThrottle(store, config.loginThrottle);
  const origin = randomUUID();
  const outbox = new StandingOutbox({ store, bus, logger, origin, pollIntervalMs: config.standingPollMs });
  const note = (kind: StandingChangeKind): StandingNote => ({ kind, origin, at: clock.now() });

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

  /** Of `ids`, those naming API tokens of the user: keeping anything else is not on offer. */
  async function ownApiTokenIds(userId: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const tokens = new Set((await store.listCredentials(userId, "api")).map((token) => token.id));
    return ids.filter((id) => tokens.has(id));
  }

  async function changeUser(
    name: string,
    change: UserChange,
    revokeKinds: CredentialKind[],
    kind: StandingChangeKind,
    traceId: string,
  ) {
    const target = await userByName(name);
    const outcome = await store.changeUser(target.id, change, revokeKinds, note(kind));
    if (outcome === "not-found") throw new AppError("NOT_FOUND", `No user named ${name}`);
    if (outcome === "last-admin")
      throw new AppError("CONFLICT", "The last enabled administrator must stay an enabled administrator");
    await outbox.announce(outcome.standing, outcome.user, traceId);
    const revoked = outcome.standing.credentialIds.length;
    logger.info({ userId: target.id, change, revoked, traceId }, "user changed");
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
      const accountAddressKey = throttle.accountAddressKey(nameKeyOf(name), address);
      const addressKey = throttle.addressKey(address);
      await throttle.begin([accountAddressKey, addressKey], clock.now());
      const user = await store.findUserByName(name);
      const isValid = user
        ? await hasher.verify(user.passwordHash, password)
        : await hasher.verifyDummy(password);
      if (!user || !isValid) {
        logger.info({ address, isKnownName: user !== undefined, traceId: ctx.traceId }, "failed sign-in");
        throw new AppError("INVALID_CREDENTIALS");
      }
      await throttle.succeeded([accountAddressKey], [addressKey]);
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
      const isSession = credential.kind === "session";
      if (credential.expiresAt !== null && credential.expiresAt <= now)
        throw new AppError("SESSION_EXPIRED", isSession ? undefined : "The API token has expired");
      if (user.disabled) throw new AppError("ACCOUNT_DISABLED");
      let expiresAt = credential.expiresAt;
      // Sliding renewal: a session used in the second half of its life gets a full lifetime again. An API
      // token's expiry is fixed: its owner chose it.
      const renewed = isSession && expiresAt !== null && expiresAt - now < config.sessionTtlMs / 2;
      if (renewed) {
        expiresAt = now + config.sessionTtlMs;
        await store.touchCredential(credential.id, { expiresAt, lastUsedAt: now });
      } else if (
        !isSession &&
        (credential.lastUsedAt === null || now - credential.lastUsedAt >= config.apiTokenTouchIntervalMs)
      ) {
        await store.touchCredential(credential.id, { lastUsedAt: now });
      }
      return { user: recordOf(user), sessionId: credential.id, kind: credential.kind, expiresAt, renewed };
    },

    async logout({ token }, ctx) {
      const found = await store.findCredential(hashToken(token));
      // Only sign-in sessions end here; API tokens are revoked explicitly with revokeApiToken.
      if (found?.credential.kind === "session") {
        const { credential, user } = found;
        const filter = { userId: user.id, kind: "session" as const, ids: [credential.id] };
        const ended = await store.deleteCredentials(filter, note("logout"));
        if (ended) await outbox.announce(ended, user, ctx.traceId);
      }
      return ok;
    },

    async setPassword({ name, password }, ctx) {
      const user = await userByName(name);
      // An operator's reset means the old password may be known to someone else: every credential ends.
      const revoke = { kinds: ["session", "api"] as const, keepIds: [] };
      const ended = await store.replacePassword(
        user.id,
        await hasher.hash(password),
        revoke,
        note("password-set"),
      );
      await outbox.announce(ended, user, ctx.traceId);
      const revoked = ended.credentialIds.length;
      logger.info({ userId: user.id, revoked, traceId: ctx.traceId }, "password set by an operator");
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

    async changePassword({ oldPassword, newPassword, keepSessionId, keepApiTokenIds }, ctx) {
      const user = await activeUser(ctx);
      // Guessing the old password through a stolen session is throttled like a sign-in.
      const checkKey = throttle.passwordCheckKey(user.id);
      await throttle.begin([checkKey], clock.now());
      if (!(await hasher.verify(user.passwordHash, oldPassword)))
        throw new AppError("INVALID_CREDENTIALS", "The old password is wrong");
      await throttle.succeeded([checkKey], []);
      // The credential the change came through stays signed in, and the API tokens the user chose to keep.
      const keepIds = [...(await ownApiTokenIds(user.id, keepApiTokenIds))];
      const keepSession = keepSessionId ?? ctx.sessionId;
      if (keepSession !== undefined) keepIds.push(keepSession);
      const revoke = { kinds: ["session", "api"] as const, keepIds };
      const hash = await hasher.hash(newPassword);
      const ended = await store.replacePassword(user.id, hash, revoke, note("password-changed"));
      await outbox.announce(ended, user, ctx.traceId);
      const revoked = ended.credentialIds.length;
      logger.info({ userId: user.id, revoked, traceId: ctx.traceId }, "password changed");
      return ok;
    },

    async revokeAllSessions({ keepApiTokenIds }, ctx) {
      const user = await activeUser(ctx);
      const apiTokenIds = new Set((await store.listCredentials(user.id, "api")).map((token) => token.id));
      const keep = keepApiTokenIds.filter((id) => apiTokenIds.has(id));
      const ended = await store.deleteCredentials(
        { userId: user.id, exceptIds: keep },
        note("signed-out-everywhere"),
      );
      if (ended) await outbox.announce(ended, user, ctx.traceId);
      const endedIds = ended?.credentialIds ?? [];
      const revokedApiTokens = endedIds.filter((id) => apiTokenIds.has(id)).length;
      return { revoked: endedIds.length - revokedApiTokens, revokedApiTokens };
    },

    ...createApiTokenHandlers({
      store,
      clock,
      maxPerUser: config.maxApiTokensPerUser,
      activeUser,
      async revoked(change, user, traceId) {
        await outbox.announce(change, user, traceId);
      },
      note,
    }),

    ...createSubsonicPasswordHandlers({
      store,
      clock,
      logger,
      throttle,
      key: subsonicKey,
      activeUser,
      userByName,
      note,
      async announce(change, user, traceId) {
        await outbox.announce(change, user, traceId);
      },
    }),

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
      const revokeKinds: CredentialKind[] = disabled ? ["session", "api"] : [];
      return changeUser(name, { disabled }, revokeKinds, disabled ? "disabled" : "enabled", ctx.traceId);
    },

    async setRole({ name, role }, ctx) {
      await requireAdmin(ctx);
      const target = await userByName(name);
      if (target.role === role) return recordOf(target);
      // Sessions end with a role change; sockets on API tokens are closed by the announcement (role mismatch).
      return changeUser(name, { role }, ["session"], "role-changed", ctx.traceId);
    },
  };

  let subscription: Subscription | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let pruning: Promise<void> | undefined;

  async function prune(): Promise<void> {
    const now = clock.now();
    const expired = await store.deleteExpiredCredentials(note("expired"));
    for (const change of expired) await outbox.announce(change, await store.findUserById(change.userId));
    const counters = await store.pruneLoginCounters(now - config.loginThrottle.forgetAfterMs);
    const changes = await store.pruneStandingChanges(now - config.standingRetentionMs);
    if (expired.length + counters + changes > 0)
      logger.debug({ expired: expired.length, counters, changes }, "pruned");
  }

  return {
    handlers,
    prune,
    pollStanding: () => outbox.poll(),
    async start() {
      if (subscription) return;
      await hasher.prepare();
      if (followStanding) await outbox.start();
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
      await outbox.stop();
      const current = subscription;
      subscription = undefined;
      await current?.unsubscribe();
    },
  };
}
