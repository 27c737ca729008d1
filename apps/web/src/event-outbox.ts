// Listening events waiting to reach the server: kept in IndexedDB (they survive a reload, a crash, a server
// outage), sent in batches, deleted only once the server has answered for them. Delivery is at least once; the
// server drops duplicates by event id, so every event counts once.
import { MAX_EVENTS_PER_SUBMIT, type ListeningEvent, type SubmitResult } from "@soundmesh/protocol";

const DB_NAME = "soundmesh-events";
const STORE = "outbox";

export interface EventSender {
  submit(events: ListeningEvent[]): Promise<SubmitResult>;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function done(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error("IndexedDB transaction failed"));
    transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted"));
  });
}

export class EventOutbox {
  private sending: Promise<void> | undefined;
  private retryTimer: number | undefined;
  private failures = 0;
  /** Events sent and acknowledged by this page (for the Stats page and tests). */
  sent = 0;

  private constructor(
    private readonly db: IDBDatabase,
    private sender: EventSender | undefined,
  ) {}

  static async open(): Promise<EventOutbox> {
    const opening = indexedDB.open(DB_NAME, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "id" });
    return new EventOutbox(await request(opening), undefined);
  }

  /** Who sends: set when the socket opens, cleared when it closes; setting it sends what is waiting. */
  setSender(sender: EventSender | undefined): void {
    this.sender = sender;
    if (sender) this.flushSoon(0);
  }

  /** Stores the event durably first; it is sent shortly after. */
  async record(event: ListeningEvent): Promise<void> {
    const transaction = this.db.transaction(STORE, "readwrite");
    transaction.objectStore(STORE).put(event);
    await done(transaction);
    this.flushSoon(250);
  }

  async pending(): Promise<number> {
    return request(this.db.transaction(STORE).objectStore(STORE).count());
  }

  private flushSoon(delayMs: number): void {
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => void this.flush(), delayMs);
  }

  /** Sends everything waiting, a batch at a time; on failure tries again with back-off. */
  flush(): Promise<void> {
    this.sending ??= this.sendAll().finally(() => (this.sending = undefined));
    return this.sending;
  }

  private async sendAll(): Promise<void> {
    for (;;) {
      const sender = this.sender;
      if (!sender) return;
      const batch = (await request(
        this.db.transaction(STORE).objectStore(STORE).getAll(null, MAX_EVENTS_PER_SUBMIT),
      )) as ListeningEvent[];
      if (batch.length === 0) return;
      try {
        await sender.submit(batch);
      } catch {
        // The server is away or busy: the events stay stored and go with the next attempt.
        this.flushSoon(Math.min(30_000, 1_000 * 2 ** this.failures++));
        return;
      }
      this.failures = 0;
      // Answered for every event of the batch: stored, a duplicate, or refused for good.
      const transaction = this.db.transaction(STORE, "readwrite");
      for (const event of batch) transaction.objectStore(STORE).delete(event.id);
      await done(transaction);
      this.sent += batch.length;
    }
  }
}
