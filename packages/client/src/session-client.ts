// The one client of the access point's WebSocket session, for the browser and for Node (the WebSocket constructor is
// given): requests typed by the service contracts, pushes typed by topic, relayed signals, request deadlines, one
// AppError rebuilt from an `err` frame, and reconnection with back-off that follows the same topics again, moving to
// another access point when the one in use does not come back.
import type { z } from "zod";
import {
  AppError,
  serverFrame,
  signalData,
  type ParamsOf,
  type PushTopicRef,
  type ResultOf,
  type ServerFrame,
  type ServiceContract,
  type SignalData,
} from "@soundmesh/protocol";

/** What the client uses of a WebSocket: the browser's and the `ws` package's both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/**
 * The browser's global `WebSocket` or the `ws` package's class. Given `headers` (Node only), the client passes them
 * as `{ headers }` after the URL, as `ws` takes them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- both constructors' second parameters differ
export type WebSocketConstructor = new (url: string, ...rest: any[]) => object;

export type SessionState = "connecting" | "open" | "reconnecting" | "signed-out" | "closed";

export type Hello = Extract<ServerFrame, { t: "hello" }>;

export interface ReconnectOptions {
  /**
   * The first wait; it doubles after each round of failed attempts (one try of every access point), up to maxMs,
   * each wait a random 50-100 % of that.
   */
  baseMs?: number;
  maxMs?: number;
  /** A socket that has not had the server's hello within this time is closed and counts as failed; 10 s. */
  connectTimeoutMs?: number;
}

export interface SessionClientOptions {
  /** The session socket's address, e.g. `ws://host:port/ws`. */
  url: string;
  /**
   * Other access points' session sockets (a cluster reached without a load balancer). A socket that drops is
   * opened again on the same access point first; when that fails, each further try goes to the next address, in
   * turn, with the same credentials (sessions live in the user service, so any access point accepts them).
   */
  fallbackUrls?: readonly string[];
  /**
   * Moves to the access points a cluster's access point names (its hello, then each change), after the given
   * addresses; on by default. A browser page leaves it off: another origin's socket would not carry its cookie.
   */
  followAnnouncedAccessPoints?: boolean;
  WebSocket: WebSocketConstructor;
  /** Headers of the upgrade request (Node only), e.g. `authorization: Bearer <token>`. */
  headers?: Record<string, string>;
  /** A request's deadline, waiting for the socket included; 15 s when not given. */
  requestTimeoutMs?: number;
  /** Opens the socket again after it drops (not after sign-out codes or close()); false: stays closed. */
  reconnect?: ReconnectOptions | false;
  onState?: (state: SessionState) => void;
  /** Where the client reports what it drops (unknown topics, malformed frames, refusals nobody waits for). */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Sees every server frame, checked, before the client acts on it (tests and tools that watch the wire). */
  onFrame?: (frame: ServerFrame) => void;
}

export interface CallOptions {
  timeoutMs?: number;
}

/** A method's arguments: params may be left out when the method takes none (or only optional ones). */
export type CallArgs<C extends ServiceContract, K extends keyof C["methods"]> =
  Record<never, never> extends ParamsOf<C, K>
    ? [params?: ParamsOf<C, K>, options?: CallOptions]
    : [params: ParamsOf<C, K>, options?: CallOptions];

/** Close codes after which the session is over: the user must sign in again. */
const SIGNED_OUT_CODES = new Set([4001, 1008]);
const OPEN = 1;

type Pending = {
  name: string;
  resolve: (result: unknown) => void;
  reject: (error: AppError) => void;
  timer: ReturnType<typeof setTimeout>;
};

type Followed = { payload: z.ZodType; handlers: Set<(data: never) => void> };

type SubscribeWaiter = { resolve: () => void; reject: (error: AppError) => void };

export class SessionClient {
  private socket: WebSocketLike | undefined;
  private nextId = 1;
  private attempt = 0;
  private isClosedByUser = false;
  private readonly pending = new Map<number, Pending>();
  private readonly followed = new Map<string, Followed>();
  private readonly subscribeWaiters = new Map<string, Set<SubscribeWaiter>>();
  private readonly wakers = new Set<() => void>();
  private signalHandler: (from: string, data: SignalData) => void = () => undefined;
  private readonly requestTimeoutMs: number;
  private readonly log: (message: string, fields?: Record<string, unknown>) => void;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set by `open`: a socket that drops before its first hello ends the client instead of retrying. */
  private isFirstTryFinal = false;
  private hasOpened = false;
  /** Every access point known, `options.url` first; `urlIndex` is the one in use. */
  /** The given addresses first, then the ones access points announced. */
  private urls: readonly string[];
  private readonly givenUrls: readonly string[];
  private urlIndex = 0;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly stateListeners = new Set<(state: SessionState) => void>();

  state: SessionState = "connecting";
  /** The server's first frame on the last socket that opened: session id, P2P pseudonym, user. */
  hello: Hello | undefined;
  /** The code and reason the last socket closed with. */
  closeCode: number | undefined;
  closeReason: string | undefined;
  /** Why the last socket failed, when the WebSocket said (e.g. `Unexpected server response: 401` in Node). */
  lastError: string | undefined;

  constructor(private readonly options: SessionClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.givenUrls = [...new Set([options.url, ...(options.fallbackUrls ?? [])])];
    this.urls = this.givenUrls;
    // eslint-disable-next-line no-console -- the default, where no logger is given
    this.log = options.log ?? ((message, fields) => console.warn(`[session] ${message}`, fields ?? ""));
    this.openSocket();
  }

  /** Opens a session and resolves once the server's hello arrived; rejects (and closes) when that first try fails. */
  static async open(options: SessionClientOptions, timeoutMs = 10_000): Promise<SessionClient> {
    const client = new SessionClient(options);
    client.isFirstTryFinal = true;
    try {
      await client.opened(timeoutMs);
      return client;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  /** The session socket address in use (or being tried): `url`, one of `fallbackUrls` or an announced one. */
  get url(): string {
    return this.urls[this.urlIndex]!;
  }

  /** Every address this client would try, in turn: the given ones, then those the access points announced. */
  get knownUrls(): readonly string[] {
    return this.urls;
  }

  /** The access points announced now (all of them: one that left is dropped, unless it was given). */
  private learnAccessPoints(announced: readonly string[]): void {
    if (this.options.followAnnouncedAccessPoints === false) return;
    const current = this.url;
    this.urls = [...new Set([...this.givenUrls, ...announced])];
    const index = this.urls.indexOf(current);
    this.urlIndex = index >= 0 ? index : 0;
  }

  /** Hears every state change (as `onState` does) until the returned function is called. */
  onStateChange(listener: (state: SessionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** This connection's P2P pseudonym ("" before the first hello). */
  get peerId(): string {
    return this.hello?.peerId ?? "";
  }

  /** Resolves once the socket is open; rejects when the session is over or the first try failed without retries. */
  async opened(timeoutMs = this.requestTimeoutMs): Promise<Hello> {
    await this.whenOpen(Date.now() + timeoutMs);
    return this.hello!;
  }

  /** Calls an exposed method of a service; rejects with the server's AppError, or UNAVAILABLE or TIMEOUT. */
  async call<C extends ServiceContract, K extends keyof C["methods"] & string>(
    contract: C,
    method: K,
    ...args: CallArgs<C, K>
  ): Promise<ResultOf<C, K>> {
    const [params = {}, options = {}] = args as [unknown, CallOptions | undefined];
    const name = `${contract.service}.${method}`;
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const deadlineMs = Date.now() + timeoutMs;
    const socket = await this.whenOpen(deadlineMs);
    return new Promise<ResultOf<C, K>>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(new AppError("TIMEOUT", `${name} got no answer within ${timeoutMs} ms`));
        },
        Math.max(1, deadlineMs - Date.now()),
      );
      this.pending.set(id, { name, resolve: resolve as (result: unknown) => void, reject, timer });
      socket.send(JSON.stringify({ t: "req", id, method: name, params }));
    });
  }

  /**
   * Follows a push topic: `handler` gets each push, checked against the topic's schema, also after reconnecting.
   * Returns the function that stops following. A refusal is logged; use `follow` to wait for the server's answer.
   */
  subscribe<P extends z.ZodType>(topic: PushTopicRef<P>, handler: (data: z.output<P>) => void): () => void {
    const followed = this.followed.get(topic.name) ?? { payload: topic.payload, handlers: new Set() };
    const isNew = followed.handlers.size === 0;
    followed.handlers.add(handler);
    this.followed.set(topic.name, followed);
    if (isNew) this.write({ t: "sub", topic: topic.name });
    return () => {
      if (!followed.handlers.delete(handler) || followed.handlers.size > 0) return;
      if (this.followed.get(topic.name) !== followed) return;
      this.followed.delete(topic.name);
      this.write({ t: "unsub", topic: topic.name });
    };
  }

  /** Like `subscribe`, but resolves once the server confirms, and rejects with its AppError when it refuses. */
  async follow<P extends z.ZodType>(
    topic: PushTopicRef<P>,
    handler: (data: z.output<P>) => void,
    options: CallOptions = {},
  ): Promise<() => void> {
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    await this.whenOpen(Date.now() + timeoutMs);
    const answered = new Promise<void>((resolve, reject) => {
      const waiters = this.subscribeWaiters.get(topic.name) ?? new Set();
      const waiter: SubscribeWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new AppError("TIMEOUT", `No answer to following ${topic.name} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(waiter);
      this.subscribeWaiters.set(topic.name, waiters);
    });
    const wasFollowed = this.followed.has(topic.name);
    const stop = this.subscribe(topic, handler);
    if (wasFollowed) this.write({ t: "sub", topic: topic.name });
    try {
      await answered;
      return stop;
    } catch (error) {
      stop();
      throw error;
    }
  }

  /** Receives the WebRTC signals other listeners relay to this one (only well-formed ones reach `handler`). */
  onSignal(handler: (from: string, data: SignalData) => void): void {
    this.signalHandler = handler;
  }

  /** Sends a WebRTC offer, answer, candidate or bye to another listener by pseudonym; dropped while disconnected. */
  sendSignal(to: string, data: SignalData): void {
    this.write({ t: "signal", to, data });
  }

  /** Sends a frame as it is, valid or not (tests of the server's refusals). */
  sendRaw(data: string): void {
    if (this.socket?.readyState === OPEN) this.socket.send(data);
  }

  /** Ends the session for good: pending requests reject with UNAVAILABLE; resolves once the socket has closed. */
  async close(): Promise<void> {
    this.isClosedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.connectTimer);
    const socket = this.socket;
    if (!socket || socket.readyState === 3) return this.setState("closed");
    await new Promise<void>((resolve) => {
      const previous = socket.onclose;
      socket.onclose = (event) => {
        previous?.(event);
        resolve();
      };
      socket.close(1000);
    });
  }

  /** For subclasses that watch the wire (test clients): every checked frame, before the client acts on it. */
  protected observe(_frame: ServerFrame): void {}

  /** For subclasses: the state has just changed. */
  protected stateChanged(_state: SessionState): void {}

  private setState(state: SessionState): void {
    if (this.state === state) return;
    this.state = state;
    this.stateChanged(state);
    this.options.onState?.(state);
    for (const listener of [...this.stateListeners]) listener(state);
    // Wakes calls waiting for the socket; each checks the state again.
    for (const wake of [...this.wakers]) wake();
  }

  private whenOpen(deadlineMs: number): Promise<WebSocketLike> {
    /** The open socket, the reason not to wait any longer, or undefined: wait for the next change. */
    const check = (): WebSocketLike | AppError | undefined => {
      if (this.state === "open" && this.socket) return this.socket;
      if (this.state === "signed-out" || this.state === "closed") {
        const why = this.lastError ? ` (${this.lastError})` : "";
        return new AppError("UNAVAILABLE", `Not connected: the session is ${this.state}${why}`, {
          details: { closeCode: this.closeCode },
        });
      }
      if (Date.now() >= deadlineMs) return new AppError("UNAVAILABLE", "Not connected");
      return undefined;
    };
    return new Promise<WebSocketLike>((resolve, reject) => {
      const settle = (): boolean => {
        const outcome = check();
        if (outcome === undefined) return false;
        if (outcome instanceof AppError) reject(outcome);
        else resolve(outcome);
        return true;
      };
      if (settle()) return;
      const wake = () => {
        if (!settle()) return;
        clearTimeout(timer);
        this.wakers.delete(wake);
      };
      const timer = setTimeout(
        () => {
          this.wakers.delete(wake);
          if (!settle()) reject(new AppError("UNAVAILABLE", "Not connected"));
        },
        Math.max(1, deadlineMs - Date.now()),
      );
      this.wakers.add(wake);
    });
  }

  private openSocket(): void {
    const { headers } = this.options;
    const url = this.url;
    const socket = (
      headers ? new this.options.WebSocket(url, { headers }) : new this.options.WebSocket(url)
    ) as WebSocketLike;
    this.socket = socket;
    socket.onmessage = (event) => this.receive(event.data);
    socket.onerror = (event) => {
      const message = (event as { message?: unknown }).message;
      if (typeof message === "string") this.lastError = message;
    };
    socket.onclose = (event) => this.dropped(socket, event.code, event.reason);
    // A host that vanished answers nothing: without this a try could wait for the system's TCP timeout.
    const { reconnect } = this.options;
    const connectTimeoutMs = (reconnect ? reconnect.connectTimeoutMs : undefined) ?? 10_000;
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (socket !== this.socket || this.state === "open") return;
      // The reason is this deadline, not the WebSocket's "closed before the connection was established".
      socket.onerror = () => undefined;
      this.lastError = `no hello from ${url} within ${connectTimeoutMs} ms`;
      socket.close();
    }, connectTimeoutMs);
  }

  private dropped(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    clearTimeout(this.connectTimer);
    const wasOpen = this.state === "open";
    this.closeCode = code;
    this.closeReason = reason;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new AppError("UNAVAILABLE", `Connection lost before ${pending.name} was answered`));
      this.pending.delete(id);
    }
    for (const [topic, waiters] of this.subscribeWaiters) {
      for (const waiter of waiters)
        waiter.reject(new AppError("UNAVAILABLE", `Connection lost before following ${topic}`));
    }
    this.subscribeWaiters.clear();
    if (this.isClosedByUser) return this.setState("closed");
    if (SIGNED_OUT_CODES.has(code)) return this.setState("signed-out");
    const reconnect = this.options.reconnect ?? {};
    if (reconnect === false) return this.setState("closed");
    // `open` gives up once every access point failed its first try.
    if (this.isFirstTryFinal && !this.hasOpened && this.attempt + 1 >= this.urls.length)
      return this.setState("closed");
    this.setState("reconnecting");
    // A socket that was open is tried again where it was (a restart, a blip); one that failed moves on.
    if (!wasOpen) this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const round = Math.floor(this.attempt++ / this.urls.length);
    const baseMs = reconnect.baseMs ?? 250;
    const maxMs = reconnect.maxMs ?? 15_000;
    const delayMs = Math.min(maxMs, baseMs * 2 ** round) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => this.openSocket(), delayMs);
  }

  private write(frame: unknown): void {
    if (this.state === "open" && this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame));
  }

  private receive(data: unknown): void {
    let frame: ServerFrame;
    try {
      frame = serverFrame.parse(JSON.parse(String(data)));
    } catch {
      return this.log("dropped a frame that is not one of the protocol's", { size: String(data).length });
    }
    this.observe(frame);
    this.options.onFrame?.(frame);
    switch (frame.t) {
      case "hello":
        clearTimeout(this.connectTimer);
        this.attempt = 0;
        this.hasOpened = true;
        this.hello = frame;
        if (frame.accessPoints) this.learnAccessPoints(frame.accessPoints);
        this.setState("open");
        for (const topic of this.followed.keys()) this.write({ t: "sub", topic });
        return;
      case "accessPoints":
        return this.learnAccessPoints(frame.urls);
      case "ice":
        // Fresh TURN credentials for this connection: the next peer connections use them.
        if (this.hello) this.hello = { ...this.hello, iceServers: frame.iceServers };
        return;
      case "res":
      case "err":
        return this.answer(frame);
      case "push":
        return this.push(frame.topic, frame.data);
      case "signal": {
        // Checked on arrival: only a well-formed description or candidate reaches the WebRTC stack.
        const checked = signalData.safeParse(frame.data);
        if (checked.success) this.signalHandler(frame.from, checked.data);
        else this.log("dropped a malformed signal", { from: frame.from });
        return;
      }
      case "pong":
        return;
    }
  }

  private answer(frame: Extract<ServerFrame, { t: "res" | "err" }>): void {
    const error = frame.t === "err" ? AppError.fromWire(frame) : undefined;
    if (typeof frame.id === "number") {
      const pending = this.pending.get(frame.id);
      if (!pending) return;
      this.pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (error) pending.reject(error);
      else pending.resolve((frame as Extract<ServerFrame, { t: "res" }>).result);
      return;
    }
    const topic = typeof frame.id === "string" && frame.id.startsWith("sub:") ? frame.id.slice(4) : undefined;
    const waiters = topic === undefined ? undefined : this.subscribeWaiters.get(topic);
    if (topic !== undefined && waiters && waiters.size > 0) {
      this.subscribeWaiters.delete(topic);
      for (const waiter of waiters) {
        if (error) waiter.reject(error);
        else waiter.resolve();
      }
      return;
    }
    if (error)
      this.log(`the server refused a frame: ${error.code}`, { id: frame.id, message: error.message });
  }

  private push(topic: string, data: unknown): void {
    const followed = this.followed.get(topic);
    if (!followed) return this.log("dropped a push for a topic not followed", { topic });
    const checked = followed.payload.safeParse(data);
    if (!checked.success) return this.log("dropped a push that does not match its topic's schema", { topic });
    for (const handler of [...followed.handlers]) (handler as (data: unknown) => void)(checked.data);
  }
}
