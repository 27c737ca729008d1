// Stats for nerds: bytes by source, buffer health, the start latency of the last plays, and the client cache.
import type { AudioController } from "../audio";
import { uploadSettings } from "../p2p";
import { useNowPlaying } from "../use-audio";
import "./stats.css";

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function Stats({ audio }: { audio: AudioController }) {
  const { bytes, bufferedAheadSec } = useNowPlaying(audio);
  const pct = (n: number) => `${Math.round(n * 100)}%`;
  const latencies = bytes.startLatenciesMs.slice(-10);
  const cached = audio.cacheIndex.list();
  return (
    <section className="stats" data-total={bytes.total}>
      <h2>Stats for nerds</h2>
      <h3>Bytes by source</h3>
      <div className="bar" aria-label="bytes by source">
        <span className="cache" style={{ width: pct(bytes.share.cache) }} />
        <span className="peer" style={{ width: pct(bytes.share.peer) }} />
        <span className="server" style={{ width: pct(bytes.share.server) }} />
      </div>
      <p>
        cache {pct(bytes.share.cache)} · peers {pct(bytes.share.peer)} · server {pct(bytes.share.server)} —{" "}
        {(bytes.total / 1024).toFixed(0)} KiB
      </p>
      <h3>Peer-to-peer</h3>
      <PeerStats audio={audio} />
      <h3>Buffer health</h3>
      <p>
        buffer ahead: {bufferedAheadSec.toFixed(1)} s · rejected pieces: {bytes.rejectedPieces}
      </p>
      <h3>Start latency</h3>
      <p>
        start latency of the last plays:{" "}
        {latencies.map((ms) => `${Math.round(ms)} ms`).join(", ") || "none yet"}
      </p>
      <h3>Client cache</h3>
      <p>
        {cached.length} tracks · {mib(audio.cacheIndex.usedBytes)} used of {mib(audio.cacheIndex.capBytes)} ·{" "}
        {cached.filter((e) => e.pinned).length} pinned for offline
      </p>
    </section>
  );
}

/** Neighbours, uploads and the upload switch (off by default on metered or cellular connections). */
function PeerStats({ audio }: { audio: AudioController }) {
  const stats = audio.peerStats();
  if (!stats) return <p>not connected to other listeners</p>;
  const problem = audio.lastP2pProblem();
  const upload = uploadSettings();
  return (
    <>
      <p data-testid="p2p-stats" data-neighbours={stats.neighbours} data-uploaded={stats.bytesUploaded}>
        neighbours: {stats.neighbours} · uploads now: {stats.uploadsInProgress} · uploaded:{" "}
        {mib(stats.bytesUploaded)} ({stats.piecesUploaded} pieces) · peers dropped for bad pieces:{" "}
        {stats.badPeers}
        {stats.isUploading ? "" : " · not uploading"}
      </p>
      {problem === undefined ? null : <p className="muted">last P2P problem: {problem}</p>}
      <label>
        <input
          type="checkbox"
          checked={upload.enabled}
          onChange={(event) => audio.setUploads({ ...upload, enabled: event.target.checked })}
        />{" "}
        share cached tracks with other listeners
      </label>
    </>
  );
}
