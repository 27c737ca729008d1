// Token buckets per caller→callee edge: a default threshold for every edge, overridable per edge.

export interface RateLimitRule {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket size: how many requests may arrive at once. */
  burst: number;
}

export interface RateLimitConfig {
  default: RateLimitRule;
  /** Keys are "caller->callee". */
  edges?: Record<string, RateLimitRule>;
}

export const defaultRateLimits: RateLimitConfig = { default: { ratePerSecond: 5_000, burst: 10_000 } };

export class TokenBucket {
  private tokens: number;
  private updatedAtMs: number;

  constructor(
    private readonly rule: RateLimitRule,
    nowMs: number,
  ) {
    this.tokens = rule.burst;
    this.updatedAtMs = nowMs;
  }

  tryTake(nowMs: number): boolean {
    const elapsedMs = Math.max(0, nowMs - this.updatedAtMs);
    this.tokens = Math.min(this.rule.burst, this.tokens + (elapsedMs / 1000) * this.rule.ratePerSecond);
    this.updatedAtMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class EdgeRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly nowMs: () => number,
  ) {}

  allow(caller: string, callee: string): boolean {
    const key = `${caller}->${callee}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.config.edges?.[key] ?? this.config.default, this.nowMs());
      this.buckets.set(key, bucket);
    }
    return bucket.tryTake(this.nowMs());
  }
}
