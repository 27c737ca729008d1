// argon2id password hashing, plus a dummy verification so an unknown name costs as much time as a wrong password.
import { randomBytes } from "node:crypto";
import argon2 from "argon2";
import type { Argon2Params } from "./config";

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** Spends the time of one verification and answers false: the path for names that do not exist. */
  verifyDummy(password: string): Promise<false>;
  /** Makes the dummy hash ahead of time, so even the first unknown name costs one verification, not two hashes. */
  prepare(): Promise<void>;
  /** Whether a stored hash was made with other parameters than the configured ones. */
  needsRehash(passwordHash: string): boolean;
}

export function createPasswordHasher(params: Argon2Params): PasswordHasher {
  const options = { type: argon2.argon2id, ...params };
  const hash = (password: string) => argon2.hash(password, options);
  let dummyHash: Promise<string> | undefined;
  const dummy = () => (dummyHash ??= hash(randomBytes(32).toString("base64url")));
  return {
    hash,
    verify: (passwordHash, password) => argon2.verify(passwordHash, password),
    async verifyDummy(password) {
      await argon2.verify(await dummy(), password);
      return false;
    },
    async prepare() {
      await dummy();
    },
    needsRehash: (passwordHash) => argon2.needsRehash(passwordHash, params),
  };
}
