// One client's WebSocket: validates every frame, routes requests to services, charges the user's frame budget and
// bounds the bytes it holds, relays pushes.
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import { randomUUID } from "node:crypto";
import {
  AppError,
  clientFrame,
  issueDetails,
  toAppError,
  trackerContract,
  type ClientFrame,
  type ServerFrame,
  type SignalData,
  type IceServer,
} from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import type { Identity } from "./auth";
import type { ExposedMethod } from "./method-table";
import type { PushHub, PushTarget } from "./push-hub";
import { REFUSALS_BEFORE_CLOSE, type SocketLimits } from "./socket-limits";

export interface ClientSocketDeps {
  bus: ServiceBus;
  logger: Logger;
  methods: Map<string, ExposedMethod>;
  hub: PushHub;
  limits: SocketLimits;
  requestTimeoutMs: number;
  nowMs: () => number;
  /** An outgoing signal as it may leave this access point (the sender's own addresses only); undefined: dropped. */
  outgoingSignal: (peerId: string, data: SignalData) => SignalData | undefined;
  onRequest?: (method: string, outcome: string, durationMs: number) => void;
}

type RequestId = string | number;

/** The id an answer to this frame carries, so the client can match a refusal to what it sent. */
function answerIdOf(frame: ClientFrame): RequestId | null {
  switch (frame.t) {
    case "req":
      return frame.id;
    case "sub":
      return `sub:${frame.topic}`;
    case "unsub":
      return `unsub:${frame.topic}`;
    case "signal":
      return frame.id ?? null;
    case "ping":
      return null;
  }
}

export class ClientSocket implements PushTarget {
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightBytes = 0;

  /** Frames refused for the user's budget since this socket's last admitted frame. */
  private refusedInARow = 0;

  constructor(
    private readonly socket: WebSocket,
    readonly identity: Identity,
    /** The connection's P2P pseudonym (derived from the session, never revealing it). */
    readonly peerId: string,
    private readonly deps: ClientSocketDeps,
  ) {
    socket.on("message", (data, isBinary) => this.receive(data, isBinary));
    socket.on("close", () => deps.hub.unfollowAll(this));
  }

  /** The first frame: who the client is and its peer pseudonym; sent once the tracker knows the peer. */
  greet(iceServers: IceServer[] = [], accessPoints: string[] = []): void {
    this.write({
      t: "hello",
      sessionId: this.identity.sessionId,
      peerId: this.peerId,
      user: { id: this.identity.user.id, name: this.identity.user.name },
      ...(iceServers.length > 0 ? { iceServers } : {}),
      ...(accessPoints.length > 0 ? { accessPoints } : {}),
    });
  }

  /** A cluster's access points changed: where this client goes if this one fails. */
  tellAccessPoints(urls: string[]): void {
    this.write({ t: "accessPoints", urls });
  }

  /** Fresh STUN/TURN servers for this connection, before its TURN credentials expire. */
  renewIce(iceServers: IceServer[]): void {
    this.write({ t: "ice", iceServers });
  }

  get sessionId(): string {
    return this.identity.sessionId;
  }

  send(topic: string, data: unknown): void {
    this.write({ t: "push", topic, data });
  }

  /** Delivers a relayed WebRTC signal from another peer. */
  deliverSignal(from: string, data: unknown): void {
    this.write({ t: "signal", from, data });
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  /** Resolves once every request already received has been answered. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private write(frame: ServerFrame): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private fail(id: RequestId | null, error: AppError): void {
    const frame: ServerFrame = { t: "err", id, code: error.code, message: error.message };
    if (error.details !== undefined) frame.details = error.details;
    this.write(frame);
  }

  private receive(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    // Frames over MAX_FRAME_BYTES never get here: ws refuses them at their header and closes with 1009.
    // Frames still arriving on a socket being closed (already received before the close) are not read.
    if (this.socket.readyState !== this.socket.OPEN) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) return this.refuseBadFrame(null, new AppError("BAD_FRAME", "Frames are JSON text"));
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch {
      return this.refuseBadFrame(null, new AppError("BAD_FRAME", "The frame is not JSON"));
    }
    const parsed = clientFrame.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown } | null)?.id;
      const details = issueDetails(parsed.error);
      const knownId = typeof id === "string" || typeof id === "number" ? id : null;
      return this.refuseBadFrame(
        knownId,
        new AppError("BAD_FRAME", "The frame does not match the protocol", { details }),
      );
    }
    const frame = parsed.data;
    if (!this.deps.limits.tryFrame(this.identity.user.id, frame.t)) {
      if (frame.t === "req") this.deps.onRequest?.(frame.method, "RATE_LIMITED", 0);
      this.fail(answerIdOf(frame), new AppError("RATE_LIMITED"));
      return this.refusedOverBudget();
    }
    this.refusedInARow = 0;
    const sizeBytes = bytes.byteLength;
    if (!this.deps.limits.admitBytes(this.inFlightBytes, sizeBytes)) {
      if (frame.t === "req") this.deps.onRequest?.(frame.method, "RATE_LIMITED", 0);
      return this.fail(
        answerIdOf(frame),
        new AppError("RATE_LIMITED", "Too many bytes waiting for answers; wait for them before sending more"),
      );
    }
    this.inFlightBytes += sizeBytes;
    const task = this.handle(frame)
      .catch((error: unknown) => {
        this.deps.logger.error({ err: error }, "frame handling failed");
      })
      .finally(() => {
        this.inFlightBytes -= sizeBytes;
        this.deps.limits.releaseBytes(sizeBytes);
      });
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  /** A frame that is not one of the protocol's costs like a request: past the budget it is answered RATE_LIMITED. */
  private refuseBadFrame(id: RequestId | null, error: AppError): void {
    if (this.deps.limits.tryFrame(this.identity.user.id, "bad")) {
      this.refusedInARow = 0;
      return this.fail(id, error);
    }
    this.fail(id, new AppError("RATE_LIMITED"));
    this.refusedOverBudget();
  }

  /**
   * Counts a frame refused for the user's budget; a socket that keeps sending after REFUSALS_BEFORE_CLOSE refusals
   * in a row is closed with 4029 and its user may not reconnect for a while: refusing a flood frame by frame would
   * cost the server as much as serving it.
   */
  private refusedOverBudget(): void {
    this.refusedInARow += 1;
    if (this.refusedInARow < REFUSALS_BEFORE_CLOSE) return;
    this.deps.limits.coolDown(this.identity.user.id);
    this.deps.logger.info({ userId: this.identity.user.id }, "socket closed for sending past its budget");
    this.socket.close(4029, "Too many frames past the budget");
  }

  private async handle(frame: ClientFrame): Promise<void> {
    switch (frame.t) {
      case "ping":
        return this.write({ t: "pong" });
      case "req":
        return this.request(frame.id, frame.method, frame.params);
      case "sub":
        try {
          await this.deps.hub.follow(this, this.identity, frame.topic);
          this.write({ t: "res", id: `sub:${frame.topic}`, result: { subscribed: frame.topic } });
        } catch (error) {
          this.fail(`sub:${frame.topic}`, toAppError(error));
        }
        return;
      case "unsub":
        this.deps.hub.unfollow(this, frame.topic);
        return this.write({ t: "res", id: `unsub:${frame.topic}`, result: { unsubscribed: frame.topic } });
      case "signal":
        return this.signal(frame.to, frame.data, frame.id ?? null);
    }
  }

  private async signal(to: string, data: unknown, id: RequestId | null): Promise<void> {
    try {
      const parsed = trackerContract.methods.signal.params.safeParse({ to, data });
      if (!parsed.success) {
        throw new AppError(
          "BAD_FRAME",
          "A signal carries an offer, answer, candidate or bye to a peer pseudonym",
        );
      }
      const kept = this.deps.outgoingSignal(this.peerId, parsed.data.data);
      if (!kept)
        throw new AppError("FORBIDDEN", "The candidate names an address that is not this peer's own");
      await this.deps.bus.request(
        trackerContract,
        "signal",
        { to: parsed.data.to, data: kept },
        {
          peerId: this.peerId,
          traceId: randomUUID(),
          timeoutMs: this.deps.requestTimeoutMs,
        },
      );
      // A signal with an id is acknowledged once relayed, as a refused one is answered with an err frame.
      if (id !== null) this.write({ t: "res", id, result: { ok: true } });
    } catch (error) {
      this.fail(id, toAppError(error));
    }
  }

  private async request(id: RequestId, name: string, params: unknown): Promise<void> {
    const startedMs = this.deps.nowMs();
    const exposed = this.deps.methods.get(name);
    let outcome = "ok";
    try {
      if (!exposed) throw new AppError("UNKNOWN_METHOD", `No method ${name}`);
      if (exposed.definition.adminOnly && this.identity.user.role !== "admin") {
        throw new AppError("FORBIDDEN", `${name} needs the admin role`);
      }
      const result = await this.deps.bus.request(exposed.contract, exposed.method, params ?? {}, {
        userId: this.identity.user.id,
        role: this.identity.user.role,
        sessionId: this.identity.sessionId,
        peerId: this.peerId,
        traceId: randomUUID(),
        timeoutMs: this.deps.requestTimeoutMs,
      });
      this.write({ t: "res", id, result });
    } catch (error) {
      const appError = toAppError(error);
      outcome = appError.code;
      if (appError.code === "INTERNAL")
        this.deps.logger.error({ err: error, method: name }, "request failed");
      this.fail(id, appError);
    } finally {
      this.deps.onRequest?.(name, outcome, this.deps.nowMs() - startedMs);
    }
  }
}
