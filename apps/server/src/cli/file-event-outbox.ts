// The headless peer's listening events waiting to reach the server: an append-only JSON Lines file under its data
// dir. An event is appended and fsynced before anything else happens to it; once the server has answered for a
// batch, an acknowledgement line naming its ids is appended; when everything written has been acknowledged the
// file is compacted (rewritten with what still waits: temporary file, fsync, rename). So events survive a restart
// of the peer and an outage of the server; the server drops a resent event by its id, so each counts once.
import { mkdir, open, rename, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { AppError, MAX_EVENTS_PER_SUBMIT, listeningEvent, type ListeningEvent } from "@soundmesh/protocol";
import { readWholeLines, syncDir } from "@soundmesh/service-events";

export interface EventSubmitter {
  /** Resolves once the server has answered for every event of the batch (stored, duplicate or refused). */
  submit(events: ListeningEvent[]): Promise<unknown>;
}

export interface FileEventOutboxOptions {
  path: string;
  submitter: EventSubmitter;
  /** First retry delay after a failed send; doubles up to maxRetryMs. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Compacts once this many acknowledged lines are in the file even if some events still wait. */
  compactAfterAcked?: number;
  onError?: (error: unknown) => void;
}

const outboxLine = z.discriminatedUnion("k", [
  z.object({ k: z.literal("e"), event: listeningEvent }),
  z.object({ k: z.literal("a"), ids: z.array(z.string()) }),
]);

/** Reads the outbox file: the events not acknowledged yet, in order. A torn last line is cut off. */
export async function readOutbox(path: string): Promise<{ waiting: ListeningEvent[]; acked: number }> {
  const waiting = new Map<string, ListeningEvent>();
  let acked = 0;
  for (const line of await readWholeLines(path)) {
    let parsed;
    try {
      parsed = outboxLine.safeParse(JSON.parse(line));
    } catch {
      continue;
    }
    if (!parsed.success) continue;
    if (parsed.data.k === "e") waiting.set(parsed.data.event.id, parsed.data.event);
    else
      for (const id of parsed.data.ids) {
        if (waiting.delete(id)) acked += 1;
      }
  }
  return { waiting: [...waiting.values()], acked };
}

export class FileEventOutbox {
  private handle: FileHandle | null = null;
  private readonly waiting = new Map<string, ListeningEvent>();
  private ackedInFile: number;
  /** Serialises appends, acknowledgements and compaction. */
  private lane: Promise<void> = Promise.resolve();
  private sending: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];
  /** Events acknowledged by the server through this outbox (since it was opened). */
  sent = 0;

  private constructor(
    private readonly options: FileEventOutboxOptions,
    waiting: ListeningEvent[],
    acked: number,
  ) {
    for (const event of waiting) this.waiting.set(event.id, event);
    this.ackedInFile = acked;
  }

  /** Opens (or creates) the outbox; what waits from an earlier run is sent as soon as possible. */
  static async open(options: FileEventOutboxOptions): Promise<FileEventOutbox> {
    await mkdir(dirname(options.path), { recursive: true });
    const { waiting, acked } = await readOutbox(options.path);
    const outbox = new FileEventOutbox(options, waiting, acked);
    outbox.handle = await open(options.path, "a");
    await syncDir(dirname(options.path));
    if (waiting.length > 0) outbox.flushSoon(0);
    return outbox;
  }

  /** Events not acknowledged yet. */
  get pending(): number {
    return this.waiting.size;
  }

  /** Stores the event durably (append + fdatasync); it is sent shortly after. */
  async record(event: ListeningEvent): Promise<void> {
    const checked = listeningEvent.safeParse(event);
    if (!checked.success) throw new AppError("BAD_EVENT", checked.error.issues[0]?.message);
    const parsed = checked.data;
    await this.inLane(async () => {
      await this.append(JSON.stringify({ k: "e", event: parsed }) + "\n");
      this.waiting.set(parsed.id, parsed);
    });
    this.flushSoon(50);
  }

  /** Sends everything waiting now, a batch at a time; on failure retries with back-off. */
  flush(): Promise<void> {
    this.sending ??= this.sendAll().finally(() => (this.sending = undefined));
    return this.sending;
  }

  /** Waits until nothing waits, or the time is up; answers how many events still wait. */
  async drain(timeoutMs: number): Promise<number> {
    // Records already asked for are in the lane: let them reach the file first.
    await this.inLane(() => Promise.resolve());
    if (this.waiting.size > 0) {
      this.flushSoon(0);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.sending;
    return this.waiting.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.sending?.catch(() => undefined);
    await this.inLane(async () => {
      await this.handle?.close();
      this.handle = null;
    });
  }

  private inLane<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lane.then(work);
    this.lane = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async append(text: string): Promise<void> {
    if (!this.handle) throw new Error("the event outbox is closed");
    await this.handle.write(text);
    await this.handle.datasync();
  }

  private flushSoon(delayMs: number): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.flush(), delayMs);
  }

  private async sendAll(): Promise<void> {
    while (!this.closed && this.waiting.size > 0) {
      const batch = [...this.waiting.values()].slice(0, MAX_EVENTS_PER_SUBMIT);
      try {
        await this.options.submitter.submit(batch);
      } catch (error) {
        // The server is away or busy: the events stay in the file and go with the next attempt.
        this.options.onError?.(error);
        const min = this.options.minRetryMs ?? 1_000;
        this.flushSoon(Math.min(this.options.maxRetryMs ?? 30_000, min * 2 ** this.failures++));
        return;
      }
      this.failures = 0;
      await this.inLane(async () => {
        await this.append(JSON.stringify({ k: "a", ids: batch.map((event) => event.id) }) + "\n");
        for (const event of batch) this.waiting.delete(event.id);
        this.ackedInFile += batch.length;
        this.sent += batch.length;
        if (this.waiting.size === 0 || this.ackedInFile >= (this.options.compactAfterAcked ?? 10_000))
          await this.compact();
      });
    }
    if (this.waiting.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Rewrites the file with only what still waits (in the lane: no append runs meanwhile). */
  private async compact(): Promise<void> {
    const { path } = this.options;
    const temporary = `${path}.tmp`;
    const text = [...this.waiting.values()].map((event) => JSON.stringify({ k: "e", event }) + "\n").join("");
    const out = await open(temporary, "w");
    try {
      await out.write(text);
      await out.sync();
    } finally {
      await out.close();
    }
    await this.handle?.close();
    await rename(temporary, path);
    await syncDir(dirname(path));
    this.handle = await open(path, "a");
    this.ackedInFile = 0;
  }
}
