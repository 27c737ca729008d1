// Sends the server what this client received (by source), uploaded and stalled on since its last report, so
// /metrics can show bytes by source and the P2P share across all listeners.
import type { ByteSnapshot } from "../byte-accounting";

export interface StatsReport {
  cacheBytes: number;
  peerBytes: number;
  serverBytes: number;
  uploadedBytes: number;
  neighbours: number;
  stutters: number;
}

export interface ClientCounters {
  bytes: ByteSnapshot;
  uploadedBytes: number;
  neighbours: number;
  stutters: number;
}

export class StatsReporter {
  private sent = { cache: 0, peer: 0, server: 0, uploaded: 0, stutters: 0 };
  private lastNeighbours = -1;

  constructor(
    private readonly read: () => ClientCounters,
    private readonly send: (report: StatsReport) => Promise<void>,
  ) {}

  /** Reports the counters' growth since the last successful report; nothing when nothing changed. */
  async flush(): Promise<void> {
    const now = this.read();
    const totals = {
      cache: now.bytes.bySource.cache,
      peer: now.bytes.bySource.peer,
      server: now.bytes.bySource.server,
      uploaded: now.uploadedBytes,
      stutters: now.stutters,
    };
    const report: StatsReport = {
      cacheBytes: Math.max(0, totals.cache - this.sent.cache),
      peerBytes: Math.max(0, totals.peer - this.sent.peer),
      serverBytes: Math.max(0, totals.server - this.sent.server),
      uploadedBytes: Math.max(0, totals.uploaded - this.sent.uploaded),
      neighbours: now.neighbours,
      stutters: Math.max(0, totals.stutters - this.sent.stutters),
    };
    const changed =
      report.cacheBytes + report.peerBytes + report.serverBytes + report.uploadedBytes + report.stutters >
        0 || now.neighbours !== this.lastNeighbours;
    if (!changed) return;
    await this.send(report);
    this.sent = totals;
    this.lastNeighbours = now.neighbours;
  }
}
