// Every verified byte counted by where it came from (cache, server, peers), for the stats panel and the P2P share.

export type SourceKind = "cache" | "server" | "peer";

export interface ByteSnapshot {
  total: number;
  bySource: Record<SourceKind, number>;
  /** Fraction (0–1) of bytes per source. */
  share: Record<SourceKind, number>;
  byTrack: Record<string, Record<SourceKind, number>>;
  /** Click-to-sound of the most recent plays, newest last. */
  startLatenciesMs: number[];
  rejectedPieces: number;
}

const zero = (): Record<SourceKind, number> => ({ cache: 0, server: 0, peer: 0 });

export class ByteAccounting {
  private readonly bySource = zero();
  private readonly byTrack = new Map<string, Record<SourceKind, number>>();
  private readonly startLatencies: number[] = [];
  private rejected = 0;

  constructor(private readonly keepLatencies = 50) {}

  add(source: SourceKind, trackKey: string, bytes: number): void {
    this.bySource[source] += bytes;
    const track = this.byTrack.get(trackKey) ?? zero();
    track[source] += bytes;
    this.byTrack.set(trackKey, track);
  }

  /** A piece that failed its hash: never counted as received. */
  reject(): void {
    this.rejected += 1;
  }

  recordStartLatency(ms: number): void {
    this.startLatencies.push(ms);
    if (this.startLatencies.length > this.keepLatencies) this.startLatencies.shift();
  }

  snapshot(): ByteSnapshot {
    const total = this.bySource.cache + this.bySource.server + this.bySource.peer;
    const share = zero();
    for (const source of Object.keys(share) as SourceKind[])
      share[source] = total > 0 ? this.bySource[source] / total : 0;
    return {
      total,
      bySource: { ...this.bySource },
      share,
      byTrack: Object.fromEntries([...this.byTrack].map(([key, counts]) => [key, { ...counts }])),
      startLatenciesMs: [...this.startLatencies],
      rejectedPieces: this.rejected,
    };
  }
}
