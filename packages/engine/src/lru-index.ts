// The client cache's bookkeeping: whole tracks by last play, a byte cap, and pins ("available offline") never evicted.

export interface CacheEntry {
  key: string;
  sizeBytes: number;
  lastUsed: number;
  pinned: boolean;
}

export class LruIndex {
  private readonly entries = new Map<string, CacheEntry>();
  private uses = 0;

  constructor(private cap: number) {}

  get capBytes(): number {
    return this.cap;
  }

  get usedBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.sizeBytes;
    return total;
  }

  /** Restores entries (e.g. from IndexedDB after a reload) in their order of last use. */
  restore(entries: ReadonlyArray<Omit<CacheEntry, "lastUsed"> & { lastUsed: number }>): string[] {
    for (const entry of [...entries].sort((a, b) => a.lastUsed - b.lastUsed)) {
      this.entries.set(entry.key, { ...entry, lastUsed: ++this.uses });
    }
    return this.evict();
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  list(): CacheEntry[] {
    return [...this.entries.values()].sort((a, b) => a.lastUsed - b.lastUsed).map((entry) => ({ ...entry }));
  }

  /** Records a use (or a new entry, or its new size); returns the keys evicted to stay within the cap. */
  touch(key: string, sizeBytes?: number): string[] {
    const entry = this.entries.get(key) ?? { key, sizeBytes: 0, lastUsed: 0, pinned: false };
    if (sizeBytes !== undefined) entry.sizeBytes = sizeBytes;
    entry.lastUsed = ++this.uses;
    this.entries.set(key, entry);
    return this.evict(key);
  }

  pin(key: string, pinned: boolean): string[] {
    const entry = this.entries.get(key);
    if (entry) entry.pinned = pinned;
    return pinned ? [] : this.evict();
  }

  remove(key: string): void {
    this.entries.delete(key);
  }

  setCap(capBytes: number): string[] {
    this.cap = capBytes;
    return this.evict();
  }

  /** Least recently used unpinned entries go first; `keep` (the one being written) is never evicted. */
  private evict(keep?: string): string[] {
    const evicted: string[] = [];
    let used = this.usedBytes;
    for (const entry of this.list()) {
      if (used <= this.cap) break;
      if (entry.pinned || entry.key === keep) continue;
      this.entries.delete(entry.key);
      used -= entry.sizeBytes;
      evicted.push(entry.key);
    }
    return evicted;
  }
}

/** Default cap: 10% of the storage quota, at most 10 GB (the seeds' client cache rule). */
export function defaultCacheCap(quotaBytes: number | undefined): number {
  const tenGigabytes = 10 * 1000 ** 3;
  if (!quotaBytes || quotaBytes <= 0) return 1000 ** 3;
  return Math.min(Math.floor(quotaBytes * 0.1), tenGigabytes);
}
