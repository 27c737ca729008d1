// Token buckets by key (a user, or an address before a credential is verified), bounded in number, with fractional
// costs so cheap frame kinds can cost less than requests.
import type { RateLimitRule } from "@soundmesh/bus";

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

export class KeyedBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rule: RateLimitRule,
    private readonly nowMs: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes `cost` tokens from the key's bucket; false (and nothing taken) when it holds fewer. */
  tryTake(key: string, cost = 1): boolean {
    const bucket = this.refilled(key);
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /** Whether the key's bucket could pay `cost` now, without taking anything. */
  canTake(key: string, cost = 1): boolean {
    const bucket = this.buckets.get(key);
    return bucket === undefined || this.refill(bucket).tokens >= cost;
  }

  private refilled(key: string): Bucket {
    const existing = this.buckets.get(key);
    if (existing) return this.refill(existing);
    // The oldest key goes first; a bucket left alone refills to full within burst / rate seconds anyway.
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    const bucket = { tokens: this.rule.burst, updatedAtMs: this.nowMs() };
    this.buckets.set(key, bucket);
    return bucket;
  }

  private refill(bucket: Bucket): Bucket {
    const nowMs = this.nowMs();
    const elapsedMs = Math.max(0, nowMs - bucket.updatedAtMs);
    bucket.tokens = Math.min(this.rule.burst, bucket.tokens + (elapsedMs / 1000) * this.rule.ratePerSecond);
    bucket.updatedAtMs = nowMs;
    return bucket;
  }
}
