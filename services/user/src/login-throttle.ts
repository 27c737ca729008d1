// Sign-in back-off per (account, client address) and per client address: after a budget of failures each attempt
// waits base·2ⁿ (capped). Never per account alone, or a stranger guessing could lock the owner out everywhere.
// An attempt is counted before the password is checked, so parallel guesses cannot outrun it.
import { AppError } from "@soundmesh/protocol";
import type { LoginThrottleConfig } from "./config";
import type { LoginCounter, UserStore } from "./store";

export interface ThrottleKey {
  key: string;
  freeFailures: number;
}

/** The wait imposed after `failures` consecutive failures. */
export function delayAfterFailures(
  failures: number,
  freeFailures: number,
  config: LoginThrottleConfig,
): number {
  if (failures < freeFailures) return 0;
  const doublings = Math.min(failures - freeFailures, 40);
  return Math.min(config.baseDelayMs * 2 ** doublings, config.maxDelayMs);
}

export class LoginThrottle {
  constructor(
    private readonly store: UserStore,
    private readonly config: LoginThrottleConfig,
  ) {}

  /** One account from one address (an IPv6 address already cut to its /64 by the access point). */
  accountAddressKey(nameKey: string, address: string): ThrottleKey {
    return {
      key: `account-address:${address} ${nameKey}`,
      freeFailures: this.config.accountAddressFreeFailures,
    };
  }

  addressKey(address: string): ThrottleKey {
    return { key: `address:${address}`, freeFailures: this.config.addressFreeFailures };
  }

  /** Old-password checks through a signed-in credential: its holder is throttled, sign-in is not. */
  passwordCheckKey(userId: string): ThrottleKey {
    return { key: `password-check:${userId}`, freeFailures: this.config.accountAddressFreeFailures };
  }

  private current(counter: LoginCounter, nowMs: number): number {
    return nowMs - counter.lastFailureAt >= this.config.forgetAfterMs ? 0 : counter.failures;
  }

  /**
   * Counts an attempt as failed up front, or throws LOGIN_THROTTLED with `details.retryAfterMs` while any key
   * must still wait. A successful attempt takes its count back with `succeeded`.
   */
  async begin(keys: readonly ThrottleKey[], nowMs: number): Promise<void> {
    const retryAfterMs = await this.store.updateLoginCounters(
      keys.map((k) => k.key),
      (counters) => {
        let wait = 0;
        counters.forEach((counter, index) => {
          const failures = this.current(counter, nowMs);
          if (failures === 0) return;
          const delayMs = delayAfterFailures(failures, keys[index]!.freeFailures, this.config);
          wait = Math.max(wait, counter.lastFailureAt + delayMs - nowMs);
        });
        if (wait > 0) return { writes: [], result: wait };
        const writes = counters.map((counter) => ({
          key: counter.key,
          failures: this.current(counter, nowMs) + 1,
          lastFailureAt: nowMs,
        }));
        return { writes, result: 0 };
      },
    );
    if (retryAfterMs > 0) {
      throw new AppError(
        "LOGIN_THROTTLED",
        `Too many failed sign-ins; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
        {
          details: { retryAfterMs },
        },
      );
    }
  }

  /** The password was right: `reset` keys start over, `refund` keys get back the attempt `begin` counted. */
  async succeeded(reset: readonly ThrottleKey[], refund: readonly ThrottleKey[]): Promise<void> {
    const resetKeys = new Set(reset.map((k) => k.key));
    await this.store.updateLoginCounters(
      [...reset, ...refund].map((k) => k.key),
      (counters) => ({
        writes: counters.map((counter) => ({
          ...counter,
          failures: resetKeys.has(counter.key) ? 0 : Math.max(0, counter.failures - 1),
        })),
        result: undefined,
      }),
    );
  }
}
