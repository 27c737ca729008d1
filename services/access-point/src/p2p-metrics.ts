// /metrics for peer-assisted streaming: the byte counters clients report (tracker.reportStats), by source, the
// P2P share, uploads and neighbours; read from the tracker at scrape time.
import { Counter, Gauge, type Registry } from "prom-client";
import { trackerContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import type { Logger } from "pino";
import { readOncePerScrape } from "./scrape-read";

const readStats = (bus: ServiceBus) => bus.request(trackerContract, "stats", {}, { timeoutMs: 2_000 });

export function registerP2pMetrics(registry: Registry, bus: ServiceBus, logger: Logger): void {
  /** One tracker request per scrape, shared by every metric below; without an answer they stay as they were. */
  const read = readOncePerScrape(() => readStats(bus), logger, "tracker stats");
  const counted = { cache: 0, peer: 0, server: 0, uploaded: 0, stutters: 0 };
  new Counter({
    name: "soundmesh_client_bytes_total",
    help: "Audio bytes clients received, by source (cache, peer, server), as they report them",
    labelNames: ["source"],
    registers: [registry],
    async collect() {
      const stats = await read();
      if (!stats) return;
      for (const source of ["cache", "peer", "server"] as const) {
        const delta = stats.clientBytes[source] - counted[source];
        if (delta > 0) this.inc({ source }, delta);
        counted[source] = stats.clientBytes[source];
      }
    },
  });
  new Counter({
    name: "soundmesh_client_uploaded_bytes_total",
    help: "Audio bytes clients uploaded to other clients",
    registers: [registry],
    async collect() {
      const stats = await read();
      if (!stats || stats.uploadedBytes <= counted.uploaded) return;
      this.inc(stats.uploadedBytes - counted.uploaded);
      counted.uploaded = stats.uploadedBytes;
    },
  });
  new Counter({
    name: "soundmesh_client_stutters_total",
    help: "Playback stalls clients reported",
    registers: [registry],
    async collect() {
      const stats = await read();
      if (!stats || stats.stutters <= counted.stutters) return;
      this.inc(stats.stutters - counted.stutters);
      counted.stutters = stats.stutters;
    },
  });
  new Gauge({
    name: "soundmesh_p2p_share",
    help: "Fraction (0-1) of reported audio bytes that came from peers",
    registers: [registry],
    async collect() {
      const stats = await read();
      if (!stats) return;
      const { cache, peer, server } = stats.clientBytes;
      this.set(cache + peer + server > 0 ? peer / (cache + peer + server) : 0);
    },
  });
  new Gauge({
    name: "soundmesh_p2p_neighbours",
    help: "Neighbour connections reported by online clients (each connection counted at both ends)",
    registers: [registry],
    async collect() {
      const stats = await read();
      if (stats) this.set(stats.neighbours);
    },
  });
  new Gauge({
    name: "soundmesh_p2p_online_peers",
    help: "Clients known to the tracker",
    registers: [registry],
    async collect() {
      const stats = await read();
      if (stats) this.set(stats.onlinePeers);
    },
  });
}
