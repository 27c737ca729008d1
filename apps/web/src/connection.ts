// The app's one WebSocket: request/response by id with timeouts, pushes, and reconnection with back-off.
import type { ServerFrame } from "@soundmesh/protocol";

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: number };
export type ConnectionState = "connecting" | "open" | "reconnecting" | "signed-out";

export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Connection {
  private socket: WebSocket | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly topics = new Map<string, Set<(data: unknown) => void>>();
  private attempt = 0;
  private closed = false;
  state: ConnectionState = "connecting";
  peerId = "";

  constructor(private readonly onState: (state: ConnectionState) => void) {
    this.open();
  }

  private readonly ready = new Set<() => void>();

  private setState(state: ConnectionState): void {
    this.state = state;
    this.onState(state);
    // Wake requests waiting for the socket; they check the state again themselves.
    for (const wake of this.ready) wake();
    this.ready.clear();
  }

  private open(): void {
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    this.socket = socket;
    socket.onmessage = (event) => this.receive(JSON.parse(String(event.data)) as ServerFrame);
    socket.onclose = (event) => {
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new RequestError("UNAVAILABLE", "Connection lost"));
        this.pending.delete(id);
      }
      if (this.closed) return;
      if (event.code === 4001 || event.code === 1008) return this.setState("signed-out");
      this.setState("reconnecting");
      const delayMs = Math.min(15_000, 250 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      window.setTimeout(() => this.open(), delayMs);
    };
  }

  private receive(frame: ServerFrame): void {
    switch (frame.t) {
      case "hello":
        this.attempt = 0;
        this.peerId = frame.peerId;
        for (const topic of this.topics.keys()) this.socket?.send(JSON.stringify({ t: "sub", topic }));
        return this.setState("open");
      case "res":
      case "err": {
        const pending = typeof frame.id === "number" ? this.pending.get(frame.id) : undefined;
        if (!pending || typeof frame.id !== "number") return;
        this.pending.delete(frame.id);
        clearTimeout(pending.timer);
        if (frame.t === "res") pending.resolve(frame.result);
        else pending.reject(new RequestError(frame.code, frame.message));
        return;
      }
      case "push":
        for (const listener of this.topics.get(frame.topic) ?? []) listener(frame.data);
        return;
      case "signal":
        return this.onSignal(frame.from, frame.data);
      case "pong":
        return;
    }
  }

  /** Sends once the socket is open (waiting through a reconnect), and rejects after `timeoutMs` in all. */
  async request<T>(method: string, params: unknown = {}, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.state !== "open" || !this.socket) {
      if (this.state === "signed-out" || Date.now() > deadline)
        throw new RequestError("UNAVAILABLE", "Not connected");
      await new Promise<void>((resolve) => this.ready.add(resolve));
    }
    const socket = this.socket;
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const timer = window.setTimeout(
        () => {
          this.pending.delete(id);
          reject(new RequestError("TIMEOUT", "The server did not answer in time"));
        },
        Math.max(1, deadline - Date.now()),
      );
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      socket.send(JSON.stringify({ t: "req", id, method, params }));
    });
  }

  subscribe(topic: string, listener: (data: unknown) => void): () => void {
    const listeners = this.topics.get(topic) ?? new Set();
    listeners.add(listener);
    this.topics.set(topic, listeners);
    if (this.state === "open") this.socket?.send(JSON.stringify({ t: "sub", topic }));
    return () => listeners.delete(listener);
  }

  /** A WebRTC offer, answer or candidate for another listener, by pseudonym (dropped while disconnected). */
  sendSignal(to: string, data: unknown): void {
    if (this.state === "open") this.socket?.send(JSON.stringify({ t: "signal", to, data }));
  }

  /** Receives signals relayed from other listeners (set by the P2P overlay). */
  onSignal: (from: string, data: unknown) => void = () => undefined;

  close(): void {
    this.closed = true;
    this.socket?.close();
  }
}
