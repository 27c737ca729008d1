// Bearer secrets: 256 random bits, shown to the client once; only their SHA-256 is stored.
import { createHash, randomBytes } from "node:crypto";

/** API tokens carry a prefix so people and secret scanners can tell them apart from session tokens. */
export const apiTokenPrefix = "smk_";

export function newSessionToken(): string {
  return randomBytes(32).toString("base64url");
}

export function newApiToken(): string {
  return apiTokenPrefix + randomBytes(32).toString("base64url");
}

/** A plain SHA-256 suffices: the tokens have 256 bits of entropy, so there is nothing to brute-force. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
