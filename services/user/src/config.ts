// The user service's settings with their defaults: session lifetime, argon2id cost, sign-in throttling, the outbox.
import { z } from "zod";
import { AppError, issueDetails } from "@soundmesh/protocol";

const positiveInt = z.number().int().positive();

const configSchema = z
  .object({
    sessionTtlMs: positiveInt.default(30 * 24 * 3600_000),
    /** argon2id cost. The defaults are OWASP's (19 MiB, 2 passes, 1 lane); tests lower them for speed. */
    argon2: z
      .object({
        memoryCost: z.number().int().min(8).default(19_456),
        timeCost: positiveInt.default(2),
        parallelism: z.number().int().min(1).max(64).default(1),
      })
      .strict()
      .prefault({}),
    loginThrottle: z
      .object({
        /**
         * Failures one client address may have on one account before each further attempt from there waits;
         * success resets them. Counted per account *and* address, so a guesser cannot lock the owner out.
         */
        accountAddressFreeFailures: positiveInt.default(5),
        /** The same for one client address across accounts (password spraying). */
        addressFreeFailures: positiveInt.default(20),
        /** The first wait; each further failure doubles it, up to maxDelayMs. */
        baseDelayMs: positiveInt.default(1_000),
        maxDelayMs: positiveInt.default(15 * 60_000),
        /** Failures older than this are forgotten. */
        forgetAfterMs: positiveInt.default(24 * 3600_000),
      })
      .strict()
      .prefault({}),
    /** How often expired sessions, stale failure counters and old standing changes are deleted. */
    pruneIntervalMs: positiveInt.default(3600_000),
    /**
     * How often a started service reads the outbox for standing changes other processes made (the CLI beside a
     * running server, other user-service processes): the delay before their sockets close.
     */
    standingPollMs: positiveInt.default(250),
    /** How long standing changes stay in the outbox; far longer than any follower's pause between polls. */
    standingRetentionMs: positiveInt.default(24 * 3600_000),
    /** An API token's lastUsedAt is written at most this often, so busy tokens do not cost a write per request. */
    apiTokenTouchIntervalMs: positiveInt.default(60_000),
    maxApiTokensPerUser: positiveInt.default(100),
  })
  .strict();

export type UserServiceConfig = z.output<typeof configSchema>;
export type UserServiceConfigInput = z.input<typeof configSchema>;
export type LoginThrottleConfig = UserServiceConfig["loginThrottle"];
export type Argon2Params = UserServiceConfig["argon2"];

export function resolveUserConfig(input: UserServiceConfigInput = {}): UserServiceConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new AppError("VALIDATION_FAILED", "invalid user service configuration", {
      details: issueDetails(parsed.error),
    });
  }
  return parsed.data;
}
