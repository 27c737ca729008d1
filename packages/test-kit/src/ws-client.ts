// The session client (@soundmesh/client) over the `ws` package, for tests and benches: typed calls and pushes, plus
// what tests of the wire need: every frame received, waiting for one, raw frames, the close code.
import WebSocket from "ws";
import { SessionClient, type SessionClientOptions, type SessionState } from "@soundmesh/client";
import type { ServerFrame } from "@soundmesh/protocol";

type Waiter = {
  match: (frame: ServerFrame) => boolean;
  resolve: (frame: ServerFrame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
};

export interface WsClientOptions {
  /** Headers of the upgrade request, e.g. X-Forwarded-For as a reverse proxy would add it. */
  headers?: Record<string, string>;
  /** Reconnects after a drop (off by default: tests watch close codes). */
  reconnect?: SessionClientOptions["reconnect"];
  requestTimeoutMs?: number;
  /** Other access points' base URLs (http://host:port) to move to when this one does not come back. */
  fallbackUrls?: string[];
}

export class WsClient extends SessionClient {
  /** The last 1,000 frames received. */
  readonly frames: ServerFrame[] = [];
  private readonly waiters = new Set<Waiter>();

  protected override stateChanged(state: SessionState): void {
    if (state === "closed" || state === "signed-out") this.rejectWaiters(`socket closed (${this.closeCode})`);
  }

  /** Opens /ws with a session token (as a bearer header) and waits for the hello frame. */
  static async connect(
    baseUrl: string,
    token: string,
    timeoutMs = 5_000,
    headers: Record<string, string> = {},
    options: Omit<WsClientOptions, "headers"> = {},
  ): Promise<WsClient> {
    const socketUrl = (base: string) => `${base.replace(/^http/, "ws")}/ws`;
    const client = new WsClient({
      url: socketUrl(baseUrl),
      ...(options.fallbackUrls ? { fallbackUrls: options.fallbackUrls.map(socketUrl) } : {}),
      WebSocket,
      headers: { ...headers, authorization: `Bearer ${token}` },
      reconnect: options.reconnect ?? false,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      log: () => undefined,
    });
    try {
      await client.opened(timeoutMs);
      return client;
    } catch (error) {
      await client.close();
      throw new Error(`no session: ${client.lastError ?? (error as Error).message}`, { cause: error });
    }
  }

  /** Resolves with the first frame, already received (of the last 1,000) or still to come, that matches. */
  waitFor(match: (frame: ServerFrame) => boolean, timeoutMs = 5_000): Promise<ServerFrame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`no matching frame within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  protected override observe(frame: ServerFrame): void {
    this.frames.push(frame);
    if (this.frames.length > 1_000) this.frames.splice(0, this.frames.length - 1_000);
    for (const waiter of this.waiters) {
      if (!waiter.match(frame)) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
    }
  }

  private rejectWaiters(reason: string): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(reason));
    }
    this.waiters.clear();
  }
}
