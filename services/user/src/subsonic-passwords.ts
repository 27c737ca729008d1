// Subsonic passwords: kept apart from the login password and encrypted (AES-256-GCM) under the server's key, since
// Subsonic's token authentication (md5(password + salt)) needs the password itself, which a hash cannot give back.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import {
  AppError,
  type CallContext,
  type HandlersOf,
  type StandingChangeKind,
  type SubsonicProof,
  type UserContract,
} from "@soundmesh/protocol";
import type { LoginThrottle } from "./login-throttle";
import { nameKeyOf, type StandingChange, type StandingNote, type StoredUser, type UserStore } from "./store";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = "v1";

/** Encrypts a Subsonic password for `userId`; the user id is bound in, so a row copied to another user fails. */
export function sealSubsonicPassword(key: Uint8Array, userId: string, password: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(userId, "utf8"));
  const sealed = Buffer.concat([cipher.update(password, "utf8"), cipher.final()]);
  return `${FORMAT}:${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString("base64")}`;
}

/** The password, or undefined when the secret was made under another key (or for another user) or is damaged. */
export function openSubsonicPassword(key: Uint8Array, userId: string, secret: string): string | undefined {
  if (!secret.startsWith(`${FORMAT}:`)) return undefined;
  const bytes = Buffer.from(secret.slice(FORMAT.length + 1), "base64");
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(userId, "utf8"));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    return undefined;
  }
}

function sameText(a: string, b: string): boolean {
  const left = createHash("sha256").update(a, "utf8").digest();
  const right = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(left, right);
}

/** Whether the proof an app sent matches the password: the password itself, or md5(password + salt). */
export function proofMatches(password: string, proof: SubsonicProof): boolean {
  if (proof.kind === "password") return sameText(password, proof.password);
  const expected = createHash("md5")
    .update(password + proof.salt, "utf8")
    .digest("hex");
  return sameText(expected, proof.token.toLowerCase());
}

export interface SubsonicPasswordDeps {
  store: UserStore;
  clock: { now(): number };
  logger: Logger;
  throttle: LoginThrottle;
  /** 32 bytes; without it the Subsonic methods answer UNAVAILABLE. */
  key: Uint8Array | undefined;
  activeUser(ctx: CallContext): Promise<StoredUser>;
  userByName(name: string): Promise<StoredUser>;
  /** Stamps a change of standing with its kind, this instance and the time. */
  note(kind: StandingChangeKind): StandingNote;
  /** Publishes a committed change, so Subsonic endpoints drop the sign-ins they cached with the old password. */
  announce(change: StandingChange, user: StoredUser, traceId: string): Promise<void>;
}

type SubsonicHandlers = Pick<
  HandlersOf<UserContract>,
  "subsonicAuthenticate" | "setSubsonicPassword" | "setMySubsonicPassword" | "subsonicPasswordStatus"
>;

export function createSubsonicPasswordHandlers(deps: SubsonicPasswordDeps): SubsonicHandlers {
  const { store, clock, throttle, logger } = deps;
  if (deps.key !== undefined && deps.key.length !== KEY_BYTES)
    throw new AppError("VALIDATION_FAILED", `The Subsonic password key must be ${KEY_BYTES} bytes`);
  const keyOrRefuse = (): Uint8Array => {
    if (!deps.key) throw new AppError("UNAVAILABLE", "Subsonic passwords are not configured on this server");
    return deps.key;
  };
  const save = async (user: StoredUser, password: string | null, ctx: CallContext) => {
    const secret = password === null ? null : sealSubsonicPassword(keyOrRefuse(), user.id, password);
    const change = await store.setSubsonicSecret(user.id, secret, deps.note("subsonic-password"));
    await deps.announce(change, user, ctx.traceId);
  };

  return {
    async subsonicAuthenticate({ name, address, proof }, ctx) {
      const key = keyOrRefuse();
      const accountAddressKey = throttle.accountAddressKey(nameKeyOf(name), address);
      const addressKey = throttle.addressKey(address);
      await throttle.begin([accountAddressKey, addressKey], clock.now());
      const user = await store.findUserByName(name);
      const stored = user && (await store.findSubsonicSecret(user.id));
      const password = user && stored && openSubsonicPassword(key, user.id, stored.secret);
      if (!user || password === undefined || !password || !proofMatches(password, proof)) {
        logger.info(
          {
            address,
            isKnownName: user !== undefined,
            hasSubsonicPassword: stored !== undefined,
            traceId: ctx.traceId,
          },
          "failed Subsonic sign-in",
        );
        throw new AppError("INVALID_CREDENTIALS");
      }
      await throttle.succeeded([accountAddressKey], [addressKey]);
      if (user.disabled) throw new AppError("ACCOUNT_DISABLED");
      return {
        id: user.id,
        name: user.name,
        role: user.role,
        disabled: user.disabled,
        createdAt: user.createdAt,
      };
    },

    async setSubsonicPassword({ name, password }, ctx) {
      await save(await deps.userByName(name), password, ctx);
      return { ok: true as const };
    },

    async setMySubsonicPassword({ password }, ctx) {
      await save(await deps.activeUser(ctx), password, ctx);
      return { ok: true as const };
    },

    async subsonicPasswordStatus(_params, ctx) {
      const user = await deps.activeUser(ctx);
      const stored = await store.findSubsonicSecret(user.id);
      return { isSet: stored !== undefined, updatedAt: stored?.updatedAt ?? null };
    },
  };
}
