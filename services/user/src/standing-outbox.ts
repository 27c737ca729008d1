// Announces changes of users' standing on the bus: this instance's own changes at once, and — by following the
// outbox table — changes other processes made on the same database (the CLI beside a running server, other
// user-service processes in cluster mode), so every access point hears of every ended credential.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import { standingChangedEvent, type StandingChanged } from "@soundmesh/protocol";
import type { StandingChange, StoredUser, UserStore } from "./store";

/** Rows read per query while catching up. */
const PAGE = 100;

export interface StandingOutboxOptions {
  store: UserStore;
  bus: ServiceBus;
  logger: Logger;
  /** Rows carrying this origin were made (and announced) by this instance. */
  origin: string;
  pollIntervalMs: number;
}

export class StandingOutbox {
  private lastSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<number> | undefined;

  constructor(private readonly options: StandingOutboxOptions) {}

  /** Publishes a change this instance just committed; `user` is the account as it stands after it. */
  async announce(change: StandingChange, user: StoredUser | undefined, traceId?: string): Promise<void> {
    const { seq, userId, kind, credentialIds } = change;
    const standing = user ? { role: user.role, disabled: user.disabled } : null;
    await this.publish({ seq, userId, kind, credentialIds, user: standing }, traceId);
  }

  /** Starts following from the newest row: what happened before there were no sockets of ours to close. */
  async start(): Promise<void> {
    if (this.timer) return;
    this.lastSeq = await this.options.store.latestStandingSeq();
    this.timer = setInterval(() => {
      this.polling ??= this.poll()
        .catch((error: unknown) => {
          this.options.logger.error({ err: error }, "following standing changes failed");
          return 0;
        })
        .finally(() => (this.polling = undefined));
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** Reads the rows written since the last poll and publishes those other instances made; returns how many. */
  async poll(): Promise<number> {
    let published = 0;
    for (;;) {
      const rows = await this.options.store.standingChangesAfter(this.lastSeq, PAGE);
      for (const row of rows) {
        this.lastSeq = row.seq;
        if (row.origin === this.options.origin) continue;
        const { seq, userId, kind, credentialIds, user } = row;
        await this.publish({ seq, userId, kind, credentialIds, user });
        published++;
      }
      if (rows.length < PAGE) return published;
    }
  }

  private async publish(event: StandingChanged, traceId?: string): Promise<void> {
    const { userId, seq } = event;
    try {
      await this.options.bus.publish(standingChangedEvent, event, traceId === undefined ? {} : { traceId });
    } catch (error) {
      // The change is committed, so authentication already refuses what it ended; the event only makes access
      // points close open sockets sooner. Failing the request here would misreport a change that happened.
      this.options.logger.error({ err: error, userId, seq, traceId }, "could not announce a standing change");
    }
  }
}
