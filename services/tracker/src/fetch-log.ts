// Which renditions each session fetched from the server (told by the access point's stream routes): a peer may
// announce only those. Bounded per user and in total, least recently active user's oldest entries going first.

export interface FetchLogLimits {
  /** Renditions remembered per user, over all of the user's sessions. */
  perUser: number;
  /** Renditions remembered over every user. */
  total: number;
}

export class FetchLog {
  /** Per user, "<sessionId> <rendition>" in fetch order (a Map keeps insertion order); users by last activity. */
  private readonly users = new Map<string, Map<string, true>>();
  private entries = 0;

  constructor(private readonly limits: FetchLogLimits) {}

  record(userId: string, sessionId: string, renditionKey: string): void {
    const log = this.users.get(userId) ?? new Map<string, true>();
    this.users.delete(userId); // re-inserted as the most recently active
    this.users.set(userId, log);
    const entry = `${sessionId} ${renditionKey}`;
    if (log.delete(entry)) this.entries -= 1;
    log.set(entry, true);
    this.entries += 1;
    while (log.size > this.limits.perUser) this.dropOldest(userId, log);
    while (this.entries > this.limits.total) {
      const [leastActive, oldestLog] = this.users.entries().next().value as [string, Map<string, true>];
      this.dropOldest(leastActive, oldestLog);
    }
  }

  has(userId: string, sessionId: string, renditionKey: string): boolean {
    return this.users.get(userId)?.has(`${sessionId} ${renditionKey}`) ?? false;
  }

  get size(): number {
    return this.entries;
  }

  private dropOldest(userId: string, log: Map<string, true>): void {
    log.delete(log.keys().next().value as string);
    this.entries -= 1;
    if (log.size === 0) this.users.delete(userId);
  }
}
