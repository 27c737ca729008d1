// Stats for nerds: bytes by source, buffer health and the start latency of the last plays.
import { useCallback, useSyncExternalStore } from "react";
import type { AudioController } from "../audio";

export function Stats({ audio }: { audio: AudioController }) {
  const now = useSyncExternalStore(
    useCallback((l) => audio.subscribe(l), [audio]),
    () => audio.snapshot().bytes.total,
    () => 0,
  );
  const { bytes, bufferedAheadSec } = audio.snapshot();
  const pct = (n: number) => `${Math.round(n * 100)}%`;
  return (
    <section className="stats" data-total={now}>
      <h2>Stats for nerds</h2>
      <div className="bar" aria-label="bytes by source">
        <span className="cache" style={{ width: pct(bytes.share.cache) }} />
        <span className="peer" style={{ width: pct(bytes.share.peer) }} />
        <span className="server" style={{ width: pct(bytes.share.server) }} />
      </div>
      <p>
        cache {pct(bytes.share.cache)} · peers {pct(bytes.share.peer)} · server {pct(bytes.share.server)} —{" "}
        {(bytes.total / 1024).toFixed(0)} KiB
      </p>
      <p>
        buffer ahead: {bufferedAheadSec.toFixed(1)} s · rejected pieces: {bytes.rejectedPieces}
      </p>
      <p>
        start latency of the last plays:{" "}
        {bytes.startLatenciesMs.map((ms) => `${Math.round(ms)} ms`).join(", ") || "none yet"}
      </p>
    </section>
  );
}
