// Open sockets by the credential they stand on: each is closed (4001) when that credential ends — revoked,
// expired, its user disabled or given another role — so no socket keeps rights its credential no longer has.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import { toAppError, userContract, type StandingChanged } from "@soundmesh/protocol";
import type { Identity } from "./auth";

/** The close code the player reads as "signed out": its credential is gone, sign in again. */
export const SIGNED_OUT = 4001;
/** The expiry could not be checked: the client reconnects, and the upgrade checks the credential again. */
const TRY_AGAIN_LATER = 1013;
/** setTimeout's longest delay (about 24.8 days); a later expiry is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A re-check that finds the credential still valid waits at least this long before the next (clock skew). */
const MIN_RECHECK_MS = 1_000;

export interface LiveSocket {
  readonly identity: Identity;
  close(code: number, reason: string): void;
}

export interface LiveSessionsOptions {
  bus: ServiceBus;
  logger: Logger;
  /** Wall-clock time, comparable with the user service's expiry times. */
  wallClockMs: () => number;
  requestTimeoutMs: number;
}

interface Entry {
  expiresAt: number | null;
  timer: NodeJS.Timeout | undefined;
}

const credentialEnded = new Set(["UNAUTHENTICATED", "SESSION_EXPIRED", "ACCOUNT_DISABLED"]);

export class LiveSessions {
  private readonly sockets = new Map<LiveSocket, Entry>();

  constructor(private readonly options: LiveSessionsOptions) {}

  add(socket: LiveSocket): void {
    const entry: Entry = { expiresAt: socket.identity.expiresAt, timer: undefined };
    this.sockets.set(socket, entry);
    this.arm(socket, entry, 0);
  }

  remove(socket: LiveSocket): void {
    clearTimeout(this.sockets.get(socket)?.timer);
    this.sockets.delete(socket);
  }

  /**
   * Closes the sockets a standing change ends: those on an ended credential, and every socket of the user when
   * the account is gone, disabled, or holds another role than the socket was opened with. Idempotent, so an
   * event announced twice (several user-service processes) does no harm. Returns how many it closed.
   */
  applyStanding(change: StandingChanged): number {
    const ended = new Set(change.credentialIds);
    let closed = 0;
    for (const socket of [...this.sockets.keys()]) {
      const { sessionId, user } = socket.identity;
      if (ended.has(sessionId)) {
        this.end(socket, "session ended");
        closed++;
      } else if (user.id === change.userId && !this.standsOn(socket, change.user)) {
        this.end(socket, "account changed");
        closed++;
      }
    }
    return closed;
  }

  stop(): void {
    for (const entry of this.sockets.values()) clearTimeout(entry.timer);
    this.sockets.clear();
  }

  private standsOn(socket: LiveSocket, standing: StandingChanged["user"]): boolean {
    return standing !== null && !standing.disabled && standing.role === socket.identity.user.role;
  }

  private end(socket: LiveSocket, reason: string, code = SIGNED_OUT): void {
    this.remove(socket);
    socket.close(code, reason);
  }

  private arm(socket: LiveSocket, entry: Entry, minimumMs: number): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.expiresAt === null) return;
    const delayMs = Math.max(entry.expiresAt - this.options.wallClockMs(), minimumMs);
    entry.timer = setTimeout(() => void this.expire(socket, entry), Math.min(delayMs, MAX_TIMER_MS));
    entry.timer.unref();
  }

  /**
   * The credential's expiry has come: ask the user service before closing, since the session may have slid
   * meanwhile through other requests (page loads, audio). The socket's own frames do not count as use: they
   * cannot renew the browser's cookie, so a session kept alive only by them would end at the next reconnect.
   */
  private async expire(socket: LiveSocket, entry: Entry): Promise<void> {
    entry.timer = undefined;
    if (this.sockets.get(socket) !== entry || entry.expiresAt === null) return;
    if (this.options.wallClockMs() < entry.expiresAt) return this.arm(socket, entry, 0);
    const { identity } = socket;
    try {
      const current = await this.options.bus.request(
        userContract,
        "authenticate",
        { token: identity.token },
        { timeoutMs: this.options.requestTimeoutMs },
      );
      if (this.sockets.get(socket) !== entry) return;
      if (current.user.role !== identity.user.role) return this.end(socket, "account changed");
      entry.expiresAt = current.expiresAt;
      this.arm(socket, entry, MIN_RECHECK_MS);
    } catch (error) {
      if (this.sockets.get(socket) !== entry) return;
      const { code } = toAppError(error);
      if (credentialEnded.has(code))
        return this.end(socket, code === "SESSION_EXPIRED" ? "session expired" : "session ended");
      this.options.logger.warn({ err: error, userId: identity.user.id }, "could not re-check an expiry");
      this.end(socket, "cannot check the session", TRY_AGAIN_LATER);
    }
  }
}
