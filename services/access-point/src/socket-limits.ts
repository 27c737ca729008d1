// What all client sockets share: open sockets per user and in all, one frame budget per user across every socket
// of theirs, and the bytes of frames received but not yet answered, per socket and in all.
import { AppError, type ClientFrame } from "@soundmesh/protocol";
import type { RateLimitRule } from "@soundmesh/bus";
import { KeyedBuckets } from "./keyed-buckets";

export interface SocketLimitsConfig {
  /** Every frame a user sends, on any of their sockets, is paid from this one bucket. */
  userRateLimit: RateLimitRule;
  maxSocketsPerUser: number;
  maxSockets: number;
  inFlightBytesPerSocket: number;
  inFlightBytesTotal: number;
}

/** What each frame kind costs ("bad": not a frame of the protocol); a ping asks for no work beyond its pong. */
const FRAME_COST: Record<ClientFrame["t"] | "bad", number> = {
  req: 1,
  sub: 1,
  unsub: 1,
  signal: 1,
  ping: 0.25,
  bad: 1,
};

/**
 * A socket whose frames are refused this many times in a row is closed (4029): answering a flood frame by frame
 * costs the server as much as serving it, so a client that does not slow down when told is cut off instead.
 */
export const REFUSALS_BEFORE_CLOSE = 100;
/** After such a close the user may open no socket for this long (429 with Retry-After). */
export const FLOOD_COOL_DOWN_MS = 10_000;

export class SocketLimits {
  private readonly socketsByUser = new Map<string, number>();
  /** Users cut off for flooding, with when they may connect again. */
  private readonly coolingUntilMs = new Map<string, number>();
  private openSockets = 0;
  private inFlightBytes = 0;
  private readonly frames: KeyedBuckets;

  constructor(
    private readonly config: SocketLimitsConfig,
    private readonly nowMs: () => number,
  ) {
    this.frames = new KeyedBuckets(config.userRateLimit, nowMs);
  }

  /** Refuses the user's new sockets for FLOOD_COOL_DOWN_MS (one of theirs was closed for flooding). */
  coolDown(userId: string): void {
    const nowMs = this.nowMs();
    // Bounded: expired entries go whenever the map grows large.
    if (this.coolingUntilMs.size >= 10_000)
      for (const [key, untilMs] of this.coolingUntilMs) if (untilMs <= nowMs) this.coolingUntilMs.delete(key);
    this.coolingUntilMs.set(userId, nowMs + FLOOD_COOL_DOWN_MS);
  }

  /**
   * Holds a place for one more socket of this user and returns what gives it back (once, however often it is
   * called); throws RATE_LIMITED when the user or the server has as many as allowed, or the user is cooling down after a flood.
   */
  reserveSocket(userId: string): () => void {
    const coolingUntilMs = this.coolingUntilMs.get(userId);
    if (coolingUntilMs !== undefined) {
      const waitMs = coolingUntilMs - this.nowMs();
      if (waitMs > 0) {
        const retryAfterSeconds = Math.ceil(waitMs / 1000);
        throw new AppError(
          "RATE_LIMITED",
          `A connection of yours was closed for sending past its budget; connect again in ${retryAfterSeconds} s`,
          { details: { retryAfterSeconds } },
        );
      }
      this.coolingUntilMs.delete(userId);
    }
    const mine = this.socketsByUser.get(userId) ?? 0;
    if (mine >= this.config.maxSocketsPerUser) {
      throw new AppError(
        "RATE_LIMITED",
        `At most ${this.config.maxSocketsPerUser} connections per user; close one first`,
        { details: { maxSocketsPerUser: this.config.maxSocketsPerUser } },
      );
    }
    if (this.openSockets >= this.config.maxSockets)
      throw new AppError("RATE_LIMITED", "The server has as many connections as it takes; try again later");
    this.socketsByUser.set(userId, mine + 1);
    this.openSockets += 1;
    let isReleased = false;
    return () => {
      if (isReleased) return;
      isReleased = true;
      this.openSockets -= 1;
      const left = (this.socketsByUser.get(userId) ?? 1) - 1;
      if (left > 0) this.socketsByUser.set(userId, left);
      else this.socketsByUser.delete(userId);
    };
  }

  /** Pays for one frame from the user's budget; false when it is spent. */
  tryFrame(userId: string, kind: ClientFrame["t"] | "bad"): boolean {
    return this.frames.tryTake(userId, FRAME_COST[kind]);
  }

  /**
   * Admits a received frame of `sizeBytes` while it is handled, given what its socket already holds; false when the
   * socket or the server would hold more than allowed. Every admitted frame is given back with `releaseBytes`.
   */
  admitBytes(socketInFlightBytes: number, sizeBytes: number): boolean {
    if (socketInFlightBytes + sizeBytes > this.config.inFlightBytesPerSocket) return false;
    if (this.inFlightBytes + sizeBytes > this.config.inFlightBytesTotal) return false;
    this.inFlightBytes += sizeBytes;
    return true;
  }

  releaseBytes(sizeBytes: number): void {
    this.inFlightBytes -= sizeBytes;
  }

  /** Bytes of frames received and not yet answered, over all sockets. */
  get inFlightBytesTotal(): number {
    return this.inFlightBytes;
  }
}
