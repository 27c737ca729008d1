// Contract of the user service: accounts, sessions, API tokens, roles.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";

export const userName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}._@-]+$/u, "letters, digits and . _ @ - only");
export const password = z.string().min(8, "at least 8 characters").max(1024);
export const role = z.enum(["admin", "user"]);
export type Role = z.infer<typeof role>;

export const userRecord = z.object({
  id: z.string(),
  name: z.string(),
  role,
  disabled: z.boolean(),
  createdAt: z.number().int(),
});
export type UserRecord = z.infer<typeof userRecord>;

export const sessionInfo = z.object({
  id: z.string(),
  userId: z.string(),
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
});

const token = z.string().min(16).max(200);
const ok = z.object({ ok: z.literal(true) });
const keepApiTokenIds = z.array(z.string().max(100)).max(1000).default([]);

/** A Subsonic password: apps send it (or an MD5 of it with a salt) with every request, so it is kept apart from the login password. */
export const subsonicPassword = z.string().min(8, "at least 8 characters").max(128);

/** How a Subsonic app proves who it is: the Subsonic password itself, or md5(password + salt) with the salt. */
export const subsonicProof = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("password"), password: z.string().max(1024) }),
  z.object({
    kind: z.literal("token"),
    token: z.string().regex(/^[0-9a-fA-F]{32}$/, "an MD5 in hex"),
    salt: z.string().min(1).max(200),
  }),
]);
export type SubsonicProof = z.infer<typeof subsonicProof>;

export const apiTokenInfo = z.object({
  id: z.string(),
  label: z.string(),
  createdAt: z.number().int(),
  lastUsedAt: z.number().int().nullable(),
  /** Null: no expiry. */
  expiresAt: z.number().int().nullable(),
});
export type ApiTokenInfo = z.infer<typeof apiTokenInfo>;

export const userContract = defineService("user", {
  // Internal methods: called by the access point and the CLI, never by a client directly.
  setupStatus: { params: z.object({}), result: z.object({ needsSetup: z.boolean() }) },
  createFirstAdmin: { params: z.object({ name: userName, password }), result: userRecord },
  login: {
    params: z.object({
      name: z.string().min(1).max(64),
      password: z.string().max(1024),
      address: z.string().max(100),
    }),
    result: z.object({ token, session: sessionInfo, user: userRecord }),
  },
  authenticate: {
    params: z.object({ token }),
    result: z.object({
      user: userRecord,
      sessionId: z.string(),
      kind: z.enum(["session", "api"]),
      /** When the credential ends (after any renewal); null for an API token without expiry. */
      expiresAt: z.number().int().nullable(),
      /** This call renewed a sliding session: a cookie holding it should get the new expiry. */
      renewed: z.boolean(),
    }),
  },
  logout: { params: z.object({ token }), result: ok },
  setPassword: { params: z.object({ name: userName, password }), result: ok },
  /** Internal (playlist): ids and names of the enabled users with these names or ids; unknown ones are left out. */
  lookupUsers: {
    params: z.object({
      names: z.array(z.string().max(64)).max(100).default([]),
      ids: z.array(z.string().max(64)).max(100).default([]),
    }),
    result: z.array(z.object({ id: z.string(), name: z.string() })),
  },
  /**
   * Internal (Subsonic API): checks a Subsonic credential against the user's Subsonic password (stored encrypted, as
   * token authentication needs the password itself). Throttled like a sign-in; INVALID_CREDENTIALS when wrong.
   */
  subsonicAuthenticate: {
    params: z.object({ name: z.string().min(1).max(64), address: z.string().max(100), proof: subsonicProof }),
    result: userRecord,
  },
  /** Internal (CLI, Subsonic API for admins): sets a user's Subsonic password. */
  setSubsonicPassword: { params: z.object({ name: userName, password: subsonicPassword }), result: ok },
  // Exposed methods: the access point fills the caller's identity from the session.
  me: { params: z.object({}), result: userRecord, exposed: true },
  changePassword: {
    params: z.object({
      oldPassword: z.string().max(1024),
      newPassword: password,
      /** The caller's own session (from the hello frame), kept signed in; every other session ends. */
      keepSessionId: z.string().max(100).optional(),
      /** API tokens end with the old password too, except these (ids from listApiTokens). */
      keepApiTokenIds,
    }),
    result: ok,
    exposed: true,
  },
  /** Sets (or with null removes) the caller's own Subsonic password, the one phone and desktop apps sign in with. */
  setMySubsonicPassword: {
    params: z.object({ password: subsonicPassword.nullable() }),
    result: ok,
    exposed: true,
  },
  /** Whether the caller has a Subsonic password, and since when. */
  subsonicPasswordStatus: {
    params: z.object({}),
    result: z.object({ isSet: z.boolean(), updatedAt: z.number().int().nullable() }),
    exposed: true,
  },
  /** "Sign out everywhere": every session of the caller ends, and every API token except those kept. */
  revokeAllSessions: {
    params: z.object({ keepApiTokenIds }),
    result: z.object({ revoked: z.number().int(), revokedApiTokens: z.number().int() }),
    exposed: true,
  },
  createApiToken: {
    params: z.object({
      label: z.string().trim().min(1).max(100),
      /** Without it the token lasts until revoked (or until a password reset, disabling, sign-out everywhere). */
      expiresInDays: z.number().int().min(1).max(3650).optional(),
    }),
    result: apiTokenInfo.extend({ token }),
    exposed: true,
  },
  /** The caller's API tokens that still work, oldest first. */
  listApiTokens: { params: z.object({}), result: z.array(apiTokenInfo), exposed: true },
  revokeApiToken: { params: z.object({ id: z.string().max(100) }), result: ok, exposed: true },
  createUser: {
    params: z.object({ name: userName, password, role: role.default("user") }),
    result: userRecord,
    exposed: true,
    adminOnly: true,
  },
  listUsers: { params: z.object({}), result: z.array(userRecord), exposed: true, adminOnly: true },
  setDisabled: {
    params: z.object({ name: userName, disabled: z.boolean() }),
    result: userRecord,
    exposed: true,
    adminOnly: true,
  },
  /** Ends the user's sessions (they remember the role they signed in with); the last enabled admin stays admin. */
  setRole: {
    params: z.object({ name: userName, role }),
    result: userRecord,
    exposed: true,
    adminOnly: true,
  },
});
export type UserContract = typeof userContract;

/** Why a user's standing changed; every kind but "enabled" can end credentials or rights. */
export const standingChangeKind = z.enum([
  "logout",
  "signed-out-everywhere",
  "password-set",
  "password-changed",
  "disabled",
  "enabled",
  "role-changed",
  "token-revoked",
  "expired",
  // The Subsonic password was set, changed or removed: apps' cached sign-ins with the old one end at once.
  "subsonic-password",
]);
export type StandingChangeKind = z.infer<typeof standingChangeKind>;

/**
 * Published for every change of a user's standing — credentials ended (logout, sign-out everywhere, password
 * change or reset, token revoked, expiry, a new or removed Subsonic password), disabling, a role change — by whichever user-service process sees the
 * change first, possibly more than once (handlers must be idempotent). Access points close the sockets of
 * `credentialIds`, and every socket of the user whose role no longer matches `user` or who is disabled.
 */
export const standingChangedEvent = defineEvent(
  "user.standingChanged",
  z.object({
    /** Position in the user service's outbox of standing changes. */
    seq: z.number().int(),
    userId: z.string(),
    kind: standingChangeKind,
    credentialIds: z.array(z.string()),
    /** The user's standing now; null when the account no longer exists. */
    user: z.object({ role, disabled: z.boolean() }).nullable(),
  }),
);
export type StandingChanged = z.infer<typeof standingChangedEvent.payload>;
