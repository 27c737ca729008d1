// A CLI client's one WebSocket to the access point (the headless peer, `soundmesh transcode`): sign-in over HTTP,
// requests by id with deadlines, push topics, and relayed signals.
import WebSocket from "ws";
import { serverFrame, signalData, type ServerFrame, type SignalData } from "@soundmesh/protocol";

/** Signs in over HTTP and returns the session token. */
export async function login(baseUrl: string, name: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await response.json()) as { token?: string; code?: string };
  if (!response.ok || !body.token)
    throw new Error(`login failed: HTTP ${response.status} ${body.code ?? ""}`);
  return body.token;
}

type Pending = { resolve: (result: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

export class SessionSocket {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private signalHandler: (from: string, data: SignalData) => void = () => {};
  private readonly pushHandlers = new Map<string, (data: unknown) => void>();
  peerId = "";

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => this.receive(data));
    socket.on("close", () => {
      for (const waiter of this.pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("socket closed"));
      }
      this.pending.clear();
    });
  }

  /** Opens /ws with a bearer token and waits for the hello frame (the session's peer pseudonym). */
  static async connect(baseUrl: string, token: string, timeoutMs = 10_000): Promise<SessionSocket> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const session = new SessionSocket(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error("no hello from the access point"));
      }, timeoutMs);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on("message", (data: Buffer) => {
        const frame = JSON.parse(data.toString("utf8")) as { t?: string; peerId?: string };
        if (frame.t !== "hello" || typeof frame.peerId !== "string") return;
        clearTimeout(timer);
        session.peerId = frame.peerId;
        resolve();
      });
    });
    return session;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  onSignal(handler: (from: string, data: SignalData) => void): void {
    this.signalHandler = handler;
  }

  request<T>(method: string, params: unknown, timeoutMs = 10_000): Promise<T> {
    const id = `h${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (result) => resolve(result as T), reject, timer });
      this.write({ t: "req", id, method, params });
    });
  }

  /** Follows a push topic: resolves once the access point confirms, rejects with its error code when refused. */
  subscribe(topic: string, handler: (data: unknown) => void, timeoutMs = 10_000): Promise<void> {
    this.pushHandlers.set(topic, handler);
    const id = `sub:${topic}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`subscribing to ${topic} timed out`));
      }, timeoutMs);
      this.pending.set(id, { resolve: () => resolve(), reject, timer });
      this.write({ t: "sub", topic });
    });
  }

  /** Signals are fire-and-forget; a refusal comes back as an err frame with the id and is logged by the caller. */
  signal(to: string, data: SignalData): Promise<void> {
    this.write({ t: "signal", id: `s${this.nextId++}`, to, data });
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close(1000);
    });
  }

  private write(frame: unknown): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private receive(data: Buffer): void {
    let frame: ServerFrame;
    try {
      frame = serverFrame.parse(JSON.parse(data.toString("utf8")));
    } catch {
      return;
    }
    if (frame.t === "signal") {
      // Checked again on arrival: only a well-formed description or candidate reaches the WebRTC stack.
      const data = signalData.safeParse(frame.data);
      if (data.success) this.signalHandler(frame.from, data.data);
      return;
    }
    if (frame.t === "push") {
      this.pushHandlers.get(frame.topic)?.(frame.data);
      return;
    }
    if (frame.t !== "res" && frame.t !== "err") return;
    const id = String(frame.id);
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    clearTimeout(waiter.timer);
    if (frame.t === "res") waiter.resolve(frame.result);
    else waiter.reject(new Error(`${frame.code}: ${frame.message}`));
  }
}
