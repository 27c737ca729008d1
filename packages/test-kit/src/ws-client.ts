// A typed WebSocket client for tests and headless tools: request/response by id, pushes, raw frames.
import WebSocket from "ws";
import { serverFrame, type ServerFrame } from "@soundmesh/protocol";

export class FrameError extends Error {
  constructor(readonly frame: Extract<ServerFrame, { t: "err" }>) {
    super(`${frame.code}: ${frame.message}`);
    this.name = "FrameError";
  }
  get code(): string {
    return this.frame.code;
  }
}

type Waiter = {
  match: (frame: ServerFrame) => boolean;
  resolve: (frame: ServerFrame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
};

export class WsClient {
  readonly frames: ServerFrame[] = [];
  private readonly waiters = new Set<Waiter>();
  private nextId = 1;
  closeCode: number | undefined;
  /** The server's first frame: session id, peer pseudonym, user. */
  hello: Extract<ServerFrame, { t: "hello" }> | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const frame = serverFrame.parse(JSON.parse((data as Buffer).toString("utf8")));
      this.frames.push(frame);
      if (this.frames.length > 1_000) this.frames.splice(0, this.frames.length - 1_000);
      for (const waiter of this.waiters) {
        if (waiter.match(frame)) {
          this.waiters.delete(waiter);
          clearTimeout(waiter.timer);
          waiter.resolve(frame);
        }
      }
    });
    socket.on("close", (code) => {
      this.closeCode = code;
      for (const waiter of this.waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`socket closed (${code})`));
      }
      this.waiters.clear();
    });
  }

  /** Opens /ws with a session token (as a bearer header) and waits for the hello frame. */
  /** `headers` go with the upgrade request, e.g. X-Forwarded-For as a reverse proxy would add it. */
  static async connect(
    baseUrl: string,
    token: string,
    timeoutMs = 5_000,
    headers: Record<string, string> = {},
  ): Promise<WsClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws`, {
      headers: { ...headers, authorization: `Bearer ${token}` },
    });
    const client = new WsClient(socket);
    const hello = client.waitFor((frame) => frame.t === "hello", timeoutMs);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_request, response) =>
        reject(new Error(`upgrade refused: ${response.statusCode}`)),
      );
    });
    client.hello = (await hello) as Extract<ServerFrame, { t: "hello" }>;
    return client;
  }

  /** Resolves with the first frame, already received (of the last 1,000) or still to come, that matches. */
  waitFor(match: (frame: ServerFrame) => boolean, timeoutMs = 5_000): Promise<ServerFrame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return this.waitForNext(match, timeoutMs);
  }

  private waitForNext(match: (frame: ServerFrame) => boolean, timeoutMs: number): Promise<ServerFrame> {
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

  /** Sends a `req` frame and resolves with its result, or rejects with a FrameError. */
  async request<T = unknown>(method: string, params: unknown = {}, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    const reply = this.waitForNext(
      (frame) => (frame.t === "res" || frame.t === "err") && frame.id === id,
      timeoutMs,
    );
    this.socket.send(JSON.stringify({ t: "req", id, method, params }));
    const frame = await reply;
    if (frame.t === "err") throw new FrameError(frame);
    return (frame as Extract<ServerFrame, { t: "res" }>).result as T;
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }
}
