// Sends alert events to an operator's webhook: POSTed JSON, one at a time in order, a bounded number of retries
// with growing pauses, and a bounded queue (the oldest dropped and counted) so a dead endpoint costs nothing more.
import type { Logger } from "pino";
import type { AlertEvent } from "@soundmesh/protocol";

export interface AlertWebhookOptions {
  url: string;
  attempts?: number;
  timeoutMs?: number;
  firstBackoffMs?: number;
  maxQueued?: number;
  logger?: Logger;
  onOutcome?: (outcome: "delivered" | "failed" | "dropped") => void;
}

export class AlertWebhook {
  private readonly queue: AlertEvent[] = [];
  private running: Promise<void> | undefined;
  private readonly attempts: number;
  private readonly timeoutMs: number;
  private readonly firstBackoffMs: number;
  private readonly maxQueued: number;
  private readonly closing = new AbortController();

  constructor(private readonly options: AlertWebhookOptions) {
    this.attempts = options.attempts ?? 4;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.firstBackoffMs = options.firstBackoffMs ?? 500;
    this.maxQueued = options.maxQueued ?? 1_000;
  }

  send(event: AlertEvent): void {
    if (this.closing.signal.aborted) return;
    this.queue.push(event);
    if (this.queue.length > this.maxQueued) {
      this.queue.shift();
      this.options.onOutcome?.("dropped");
    }
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves once everything queued has been delivered or given up on. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Abandons what is queued and any delivery in flight (the server is stopping). */
  async close(): Promise<void> {
    this.closing.abort();
    this.queue.length = 0;
    await this.idle();
  }

  private async drain(): Promise<void> {
    for (let event = this.queue.shift(); event; event = this.queue.shift()) {
      const delivered = await this.deliver(event);
      this.options.onOutcome?.(delivered ? "delivered" : "failed");
    }
  }

  private async deliver(event: AlertEvent): Promise<boolean> {
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        const response = await fetch(this.options.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.closing.signal]),
        });
        await response.body?.cancel();
        if (response.ok) return true;
        // A 4xx other than 408/429 will not change on a retry.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (error) {
        this.options.logger?.debug({ err: error, attempt }, "alert webhook attempt failed");
      }
      if (this.closing.signal.aborted) return false;
      if (attempt < this.attempts) {
        await new Promise((resolve) => setTimeout(resolve, this.firstBackoffMs * 2 ** (attempt - 1)));
      }
    }
    this.options.logger?.warn({ key: event.alert.key, event: event.event }, "alert webhook gave up");
    return false;
  }
}
