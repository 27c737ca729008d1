// The server's key for Subsonic passwords: 32 random bytes in the data dir, made on first use, readable by its owner only.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "@soundmesh/protocol";

export const SUBSONIC_KEY_FILE = "subsonic-password.key";

export function loadSubsonicKey(dataDir: string): Uint8Array {
  const file = join(dataDir, SUBSONIC_KEY_FILE);
  try {
    const key = readFileSync(file);
    if (key.length !== 32) throw new AppError("VALIDATION_FAILED", `${file} must hold 32 bytes`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  try {
    // "wx": two processes starting at once never overwrite each other's key; the loser reads the winner's.
    writeFileSync(file, key, { mode: 0o600, flag: "wx" });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readFileSync(file);
  }
}
