// Who a Subsonic request comes from: u+p (plain or "enc:" hex), u+t+s (salted token) or apiKey (OpenSubsonic's
// apiKeyAuthentication: one of the user's API tokens). Checked by the user service; answers cached a few seconds.
import { createHash } from "node:crypto";
import type { ServiceBus } from "@soundmesh/bus";
import { AppError, toAppError, userContract, type SubsonicProof, type UserRecord } from "@soundmesh/protocol";
import { SubsonicError } from "./errors";
import type { Params } from "./params";

export interface SubsonicIdentity {
  user: UserRecord;
  /** The API token's id, or a per-user name for password and token sign-ins (which have no session). */
  sessionId: string;
}

type Credential = { kind: "apiKey"; apiKey: string } | { kind: "proof"; name: string; proof: SubsonicProof };

function decodePassword(raw: string): string {
  if (!raw.startsWith("enc:")) return raw;
  const hex = raw.slice(4);
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new SubsonicError(40, "The enc: password is not hexadecimal");
  return Buffer.from(hex, "hex").toString("utf8");
}

/** Reads the credential the request carries; conflicting or incomplete ones are refused before any lookup. */
export function credentialOf(params: Params): Credential {
  const apiKey = params.optionalString("apiKey", 200);
  const name = params.optionalString("u", 64);
  const password = params.optionalString("p", 2_100);
  const token = params.optionalString("t", 64);
  if (apiKey !== undefined) {
    if (name !== undefined || password !== undefined || token !== undefined) throw new SubsonicError(43);
    return { kind: "apiKey", apiKey };
  }
  if (name === undefined) throw new SubsonicError(10, "Required parameter is missing: u");
  if (token !== undefined) {
    if (password !== undefined) throw new SubsonicError(43);
    const salt = params.string("s", 200);
    if (!/^[0-9a-fA-F]{32}$/.test(token)) throw new SubsonicError(40);
    return { kind: "proof", name, proof: { kind: "token", token, salt } };
  }
  if (password === undefined) throw new SubsonicError(10, "Required parameter is missing: p (or t and s)");
  return { kind: "proof", name, proof: { kind: "password", password: decodePassword(password) } };
}

function cacheKeyOf(credential: Credential): string {
  const text =
    credential.kind === "apiKey"
      ? `k\0${credential.apiKey}`
      : credential.proof.kind === "token"
        ? `t\0${credential.name}\0${credential.proof.token.toLowerCase()}\0${credential.proof.salt}`
        : `p\0${credential.name}\0${credential.proof.password}`;
  return createHash("sha256").update(text, "utf8").digest("base64");
}

/** Checked credentials for a few seconds (apps send one with every request); a user's change of standing drops theirs. */
export class SubsonicAuthenticator {
  private readonly entries = new Map<string, { identity: SubsonicIdentity; expiresAtMs: number }>();

  constructor(
    private readonly bus: ServiceBus,
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  async authenticate(credential: Credential, address: string, traceId: string): Promise<SubsonicIdentity> {
    const key = cacheKeyOf(credential);
    const cached = this.entries.get(key);
    if (cached && cached.expiresAtMs > this.nowMs()) return cached.identity;
    const identity = await this.check(credential, address, traceId);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { identity, expiresAtMs: this.nowMs() + this.ttlMs });
    return identity;
  }

  forgetUser(userId: string): void {
    for (const [key, entry] of this.entries) if (entry.identity.user.id === userId) this.entries.delete(key);
  }

  private async check(credential: Credential, address: string, traceId: string): Promise<SubsonicIdentity> {
    if (credential.kind === "apiKey") {
      if (credential.apiKey.length < 16) throw new SubsonicError(44);
      try {
        const found = await this.bus.request(
          userContract,
          "authenticate",
          { token: credential.apiKey },
          { traceId },
        );
        // A sign-in session's token is not an API key: keys are made (and revoked) in Settings.
        if (found.kind !== "api") throw new SubsonicError(44);
        return { user: found.user, sessionId: found.sessionId };
      } catch (error) {
        if (error instanceof SubsonicError) throw error;
        const code = toAppError(error).code;
        if (code === "UNAUTHENTICATED" || code === "SESSION_EXPIRED" || code === "VALIDATION_FAILED")
          throw new SubsonicError(44);
        if (code === "ACCOUNT_DISABLED") throw new SubsonicError(40, "The account is disabled");
        throw error;
      }
    }
    try {
      const user = await this.bus.request(
        userContract,
        "subsonicAuthenticate",
        { name: credential.name, address, proof: credential.proof },
        { traceId },
      );
      return { user, sessionId: `subsonic:${user.id}` };
    } catch (error) {
      const appError = toAppError(error);
      if (appError.code === "INVALID_CREDENTIALS" || appError.code === "VALIDATION_FAILED")
        throw new SubsonicError(40);
      if (appError.code === "LOGIN_THROTTLED") throw new SubsonicError(40, appError.message);
      if (appError.code === "ACCOUNT_DISABLED") throw new SubsonicError(40, "The account is disabled");
      if (appError.code === "UNAVAILABLE") throw new SubsonicError(42, appError.message);
      throw error instanceof AppError ? error : appError;
    }
  }
}
