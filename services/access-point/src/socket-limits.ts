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

export class SocketLimits {
  private readonly socketsByUser = new Map<string, number>();
  private openSockets = 0;
  private inFlightBytes = 0;
  private readonly frames: KeyedBuckets;

  constructor(
    private readonly config: SocketLimitsConfig,
    nowMs: () => number,
  ) {
    this.frames = new KeyedBuckets(config.userRateLimit, nowMs);
  }

  /**
   * Holds a place for one more socket of this user and returns what gives it back (once, however often it is
   * called); throws RATE_LIMITED when the user or the server has as many as allowed.
   */
  reserveSocket(userId: string): () => void {
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
