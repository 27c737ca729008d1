// argon2id password hashing, plus a dummy verification so an unknown name costs as much time as a wrong password.
// The argon2 addon loads with the first hash or verification, so commands that check no password never load it.
import { randomBytes } from "node:crypto";
import type argon2 from "argon2";
import type { Argon2Params } from "./config";

let argon2Module: Promise<typeof argon2> | undefined;
const loadArgon2 = () => (argon2Module ??= import("argon2").then((module) => module.default));

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** Spends the time of one verification and answers false: the path for names that do not exist. */
  verifyDummy(password: string): Promise<false>;
  /** Makes the dummy hash ahead of time, so even the first unknown name costs one verification, not two hashes. */
  prepare(): Promise<void>;
  /** Whether a stored hash was made with other parameters than the configured ones. */
  needsRehash(passwordHash: string): Promise<boolean>;
}

export function createPasswordHasher(params: Argon2Params): PasswordHasher {
  const hash = async (password: string) => {
    const argon2 = await loadArgon2();
    return argon2.hash(password, { type: argon2.argon2id, ...params });
  };
  const verify = async (passwordHash: string, password: string) =>
    (await loadArgon2()).verify(passwordHash, password);
  let dummyHash: Promise<string> | undefined;
  const dummy = () => (dummyHash ??= hash(randomBytes(32).toString("base64url")));
  return {
    hash,
    verify,
    async verifyDummy(password) {
      await verify(await dummy(), password);
      return false;
    },
    async prepare() {
      await dummy();
    },
    needsRehash: async (passwordHash) => (await loadArgon2()).needsRehash(passwordHash, params),
  };
}
