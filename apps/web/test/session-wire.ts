// The session socket of the component tests: the app's real session client (@soundmesh/client) over an in-memory
// WebSocket whose far end answers from handlers the test gives, per contract method. Every request's params are
// checked against its contract and every answer against the method's result schema, as the access point does, so a
// component that sends what the server would refuse, or a fixture the contract does not allow, fails the test.
import { SessionClient, type WebSocketLike } from "@soundmesh/client";
import {
  AppError,
  clientFrame,
  type ParamsOf,
  type PushTopicRef,
  type ServerFrame,
  type ServiceContract,
} from "@soundmesh/protocol";
import type { z } from "zod";

type MethodOf<C extends ServiceContract, K extends keyof C["methods"]> = C["methods"][K];
type Handler = (params: unknown) => unknown;
type Answered = { params: z.ZodType; result: z.ZodType; handler: Handler };

/** One request as the far end received it, params checked. */
export interface SeenCall {
  method: string;
  params: unknown;
}

export class SessionWire {
  /** Every request that reached a handler, in order. */
  readonly calls: SeenCall[] = [];
  /** What broke a contract on either side (a refused request, an answer its schema refuses, a method not answered). */
  readonly problems: string[] = [];
  private readonly answers = new Map<string, Answered>();
  private readonly sockets = new Set<MemorySocket>();

  constructor(readonly user = { id: "user-1", name: "ada" }) {}

  /** Answers `contract.method` with `handler` (params already checked; throw an AppError to refuse). */
  answer<C extends ServiceContract, K extends keyof C["methods"] & string>(
    contract: C,
    method: K,
    handler: (
      params: z.output<MethodOf<C, K>["params"]>,
    ) => z.input<MethodOf<C, K>["result"]> | Promise<z.input<MethodOf<C, K>["result"]>>,
  ): this {
    const spec = contract.methods[method]!;
    this.answers.set(`${contract.service}.${method}`, {
      params: spec.params,
      result: spec.result,
      handler: handler as Handler,
    });
    return this;
  }

  /** The params of each call of `contract.method` so far. */
  paramsOf<C extends ServiceContract, K extends keyof C["methods"] & string>(
    contract: C,
    method: K,
  ): ParamsOf<C, K>[] {
    const name = `${contract.service}.${method}`;
    return this.calls.filter((call) => call.method === name).map((call) => call.params as ParamsOf<C, K>);
  }

  /** Pushes `data` (checked against the topic's schema) to every socket that follows `topic`. */
  push<P extends z.ZodType>(topic: PushTopicRef<P>, data: z.input<P>): void {
    topic.payload.parse(data);
    for (const socket of this.sockets)
      if (socket.topics.has(topic.name)) socket.deliver({ t: "push", topic: topic.name, data });
  }

  /** How many open sockets follow `topic` now. */
  followers(topic: PushTopicRef): number {
    return [...this.sockets].filter((socket) => socket.topics.has(topic.name)).length;
  }

  /** A session client connected to this wire (open once its hello arrives, as in the browser). */
  client(): SessionClient {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the socket class below is built per wire
    const wire = this;
    class Socket extends MemorySocket {
      constructor() {
        super(wire);
      }
    }
    return new SessionClient({
      url: "ws://test/ws",
      WebSocket: Socket,
      reconnect: false,
      log: () => undefined,
    });
  }

  /** @internal */
  attach(socket: MemorySocket): void {
    this.sockets.add(socket);
    socket.deliver({
      t: "hello",
      sessionId: `session-${this.sockets.size}`,
      peerId: "peer",
      user: this.user,
    });
  }

  /** @internal */
  detach(socket: MemorySocket): void {
    this.sockets.delete(socket);
  }

  /** @internal The far end of one frame a client sent. */
  async receive(socket: MemorySocket, text: string): Promise<void> {
    const frame = clientFrame.parse(JSON.parse(text));
    if (frame.t === "sub" || frame.t === "unsub") {
      if (frame.t === "sub") socket.topics.add(frame.topic);
      else socket.topics.delete(frame.topic);
      const result = frame.t === "sub" ? { subscribed: frame.topic } : { unsubscribed: frame.topic };
      return socket.deliver({ t: "res", id: `${frame.t}:${frame.topic}`, result });
    }
    if (frame.t === "ping") return socket.deliver({ t: "pong" });
    if (frame.t !== "req") return;
    const fail = (error: AppError) =>
      socket.deliver({ t: "err", id: frame.id, ...error.toWire() } as ServerFrame);
    const answered = this.answers.get(frame.method);
    if (!answered) {
      this.problems.push(`${frame.method}: not answered by this test`);
      return fail(new AppError("UNKNOWN_METHOD", `${frame.method} is not answered by this test`));
    }
    const params = answered.params.safeParse(frame.params);
    if (!params.success) {
      this.problems.push(`${frame.method}: params refused by the contract: ${params.error.message}`);
      return fail(new AppError("VALIDATION_FAILED"));
    }
    this.calls.push({ method: frame.method, params: params.data });
    let result: unknown;
    try {
      result = await answered.handler(params.data);
    } catch (error) {
      if (error instanceof AppError) return fail(error);
      throw error;
    }
    const checked = answered.result.safeParse(result);
    if (!checked.success) {
      this.problems.push(`${frame.method}: answer refused by the contract: ${checked.error.message}`);
      return fail(new AppError("INTERNAL"));
    }
    socket.deliver({ t: "res", id: frame.id, result: result ?? null });
  }
}

/** The in-memory WebSocket: frames go through JSON both ways, each delivered on a later task, like a socket's. */
class MemorySocket implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly topics = new Set<string>();

  constructor(private readonly wire: SessionWire) {
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
      wire.attach(this);
    }, 0);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    setTimeout(() => void this.wire.receive(this, data), 0);
  }

  deliver(frame: ServerFrame): void {
    const data = JSON.stringify(frame);
    setTimeout(() => {
      if (this.readyState === 1) this.onmessage?.({ data });
    }, 0);
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.wire.detach(this);
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}
