// Turns what a player reports (the audio element and the engine in the web player, the silent sink in the headless
// peer) into listening events: play started (with its start latency), the part heard when a play ends, skips, seeks,
// stutters, and the bytes of each play by source.
import type { ListeningEvent } from "@soundmesh/protocol";
import type { ByteSnapshot } from "./byte-accounting";

/** A version 7 UUID: milliseconds first, so ids sort by creation time; the rest random. */
export function uuidV7(ms = Date.now()): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

type Reason = "finished" | "skipped" | "stopped" | "error";
type Source = "cache" | "peer" | "server";

interface CurrentPlay {
  trackId: string;
  durationMs: number;
  heardMs: number;
  lastPositionMs: number;
  bytesAtStart: ByteSnapshot;
  stalledSince: number | undefined;
}

const clampMs = (ms: number) => Math.max(0, Math.min(24 * 3_600_000, Math.round(ms)));

export class PlayEvents {
  private current: CurrentPlay | undefined;
  private bytesAtRequest: ByteSnapshot | undefined;

  /**
   * @param maxStepMs a position step up to this long counts as heard, a longer one is a jump (a seek); a player
   *   reporting its position less often or playing faster than real time (the headless peer) raises it
   */
  constructor(
    private readonly record: (event: ListeningEvent) => void,
    private readonly bytes: () => ByteSnapshot,
    private readonly maxStepMs = 2_000,
  ) {}

  private base(trackId: string) {
    return { v: 1 as const, id: uuidV7(), at: Date.now(), trackId };
  }

  /** A track was asked for: the bytes counted from now tell where its first piece came from. */
  requested(): void {
    this.bytesAtRequest = this.bytes();
  }

  private firstPieceSource(): Source {
    const before = this.bytesAtRequest;
    const now = this.bytes();
    let best: Source = "server";
    let most = 0;
    for (const source of ["cache", "peer", "server"] as const) {
      const delta = now.bySource[source] - (before?.bySource[source] ?? 0);
      if (delta > most) [best, most] = [source, delta];
    }
    return best;
  }

  /** The track started sounding (a gapless crossing reports it once; a second report is ignored). */
  started(trackId: string, durationMs: number, latencyMs: number): void {
    if (this.current?.trackId === trackId && this.current.heardMs === 0) return;
    if (this.current) this.ended("stopped");
    const firstPieceFrom = this.firstPieceSource();
    this.current = {
      trackId,
      durationMs,
      heardMs: 0,
      lastPositionMs: 0,
      bytesAtStart: this.bytes(),
      stalledSince: undefined,
    };
    this.record({ ...this.base(trackId), type: "play.started" });
    this.record({
      ...this.base(trackId),
      type: "start.latency",
      latencyMs: clampMs(latencyMs),
      firstPieceFrom,
    });
  }

  /** The position moved while playing: small steps count as heard, jumps do not (they are seeks). */
  progress(positionMs: number): void {
    const play = this.current;
    if (!play) return;
    const step = positionMs - play.lastPositionMs;
    if (step > 0 && step < this.maxStepMs) play.heardMs += step;
    play.lastPositionMs = positionMs;
  }

  seeked(fromMs: number, toMs: number): void {
    const play = this.current;
    if (!play) return;
    play.lastPositionMs = toMs;
    this.record({ ...this.base(play.trackId), type: "seek", fromMs: clampMs(fromMs), toMs: clampMs(toMs) });
  }

  stalled(): void {
    if (this.current && this.current.heardMs > 0) this.current.stalledSince ??= Date.now();
  }

  resumed(): void {
    const play = this.current;
    if (!play?.stalledSince) return;
    const stalledMs = Date.now() - play.stalledSince;
    play.stalledSince = undefined;
    this.record({
      ...this.base(play.trackId),
      type: "stutter",
      positionMs: clampMs(play.lastPositionMs),
      stalledMs: clampMs(stalledMs),
    });
  }

  /** The play is over: finished, skipped by the listener, stopped (another track asked for) or failed. */
  ended(reason: Reason): void {
    const play = this.current;
    if (!play) return;
    this.current = undefined;
    if (reason === "skipped")
      this.record({ ...this.base(play.trackId), type: "skip", positionMs: clampMs(play.lastPositionMs) });
    this.record({
      ...this.base(play.trackId),
      type: "play.ended",
      playedMs: clampMs(play.heardMs),
      durationMs: clampMs(play.durationMs),
      reason,
    });
    const now = this.bytes();
    this.record({
      ...this.base(play.trackId),
      type: "source.bytes",
      cacheBytes: Math.max(0, now.bySource.cache - play.bytesAtStart.bySource.cache),
      peerBytes: Math.max(0, now.bySource.peer - play.bytesAtStart.bySource.peer),
      serverBytes: Math.max(0, now.bySource.server - play.bytesAtStart.bySource.server),
    });
  }

  get trackId(): string | undefined {
    return this.current?.trackId;
  }
}
