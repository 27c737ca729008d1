// A scan shares its thread with a server's answers: the loops over every file of a big library (100,000 stored states
// compared with 100,000 files found) run in short turns, giving the event loop a turn between them, so a browse call
// arriving meanwhile waits a few milliseconds, not the whole comparison.

export interface TurnOptions {
  /** How long one turn may run before it gives way, in milliseconds (default 4). */
  budgetMs?: number;
  /** Items between two looks at the clock (default 512): reading it costs more than comparing one file. */
  checkEvery?: number;
  /** Stored file states read per query (default 1,000). */
  pageSize?: number;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Counts a loop's items and gives the event loop a turn whenever this turn has run for the budget. */
export class Turns {
  readonly budgetMs: number;
  readonly checkEvery: number;
  readonly pageSize: number;
  private startedMs = performance.now();
  private sinceCheck = 0;

  constructor(options: TurnOptions = {}) {
    this.budgetMs = options.budgetMs ?? 4;
    this.checkEvery = Math.max(1, options.checkEvery ?? 512);
    this.pageSize = Math.max(1, options.pageSize ?? 1_000);
  }

  /** Gives way if the turn is over; resolves at once (no promise to wait for) most of the time. */
  pause(): Promise<void> | undefined {
    this.sinceCheck += 1;
    if (this.sinceCheck < this.checkEvery) return undefined;
    this.sinceCheck = 0;
    return this.giveWayIfDue();
  }

  /** Gives way now if the turn has run for the budget (after a query, say, whatever the item count). */
  giveWayIfDue(): Promise<void> | undefined {
    if (performance.now() - this.startedMs < this.budgetMs) return undefined;
    return nextTurn().then(() => {
      this.startedMs = performance.now();
    });
  }

  /** Runs `each` over `items` in turns. */
  async forEach<T>(items: Iterable<T>, each: (item: T) => void): Promise<void> {
    for (const item of items) {
      each(item);
      const pause = this.pause();
      if (pause) await pause;
    }
  }

  /** `items.filter(keep)`, in turns. */
  async filter<T>(items: Iterable<T>, keep: (item: T) => boolean): Promise<T[]> {
    const kept: T[] = [];
    await this.forEach(items, (item) => {
      if (keep(item)) kept.push(item);
    });
    return kept;
  }
}
