// /metrics for the transcode scheduler: ffmpeg running and paused, transcodes waiting by priority, and refusals;
// read from the storage service (storage.stats) at scrape time, so it works wherever storage runs.
import { Counter, Gauge, type Registry } from "prom-client";
import { storageContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import type { Logger } from "pino";
import { readOncePerScrape } from "./scrape-read";

const readStats = (bus: ServiceBus) => bus.request(storageContract, "stats", {}, { timeoutMs: 2_000 });

export function registerStorageMetrics(registry: Registry, bus: ServiceBus, logger: Logger): void {
  /** One storage request per scrape, shared by every metric below; without an answer they stay as they were. */
  const read = readOncePerScrape(() => readStats(bus), logger, "storage stats");
  new Gauge({
    name: "soundmesh_transcodes_running",
    help: "ffmpeg processes transcoding now (at most transcode.maxConcurrent)",
    registers: [registry],
    async collect() {
      const stats = await read();
      if (stats) this.set(stats.scheduler.running);
    },
  });
  new Gauge({
    name: "soundmesh_transcodes_paused",
    help: "Background ffmpeg processes stopped while listeners use their slots",
    registers: [registry],
    async collect() {
      const stats = await read();
      if (stats) this.set(stats.scheduler.paused);
    },
  });
  new Gauge({
    name: "soundmesh_transcodes_queued",
    help: "Transcodes waiting for a slot, by priority (listener, background)",
    labelNames: ["priority"],
    registers: [registry],
    async collect() {
      const stats = await read();
      if (!stats) return;
      this.set({ priority: "listener" }, stats.scheduler.queuedListener);
      this.set({ priority: "background" }, stats.scheduler.queuedBackground);
    },
  });
  const counted = { perUser: 0, queueFull: 0 };
  new Counter({
    name: "soundmesh_transcodes_refused_total",
    help: "Transcode requests refused, by reason (per_user: the user's cap; queue_full: the listeners' queue)",
    labelNames: ["reason"],
    registers: [registry],
    async collect() {
      const stats = await read();
      if (!stats) return;
      const now = { perUser: stats.scheduler.refusedPerUser, queueFull: stats.scheduler.refusedQueueFull };
      // A restarted storage service counts from zero again: take its count as new.
      for (const [key, label] of [
        ["perUser", "per_user"],
        ["queueFull", "queue_full"],
      ] as const) {
        const delta = now[key] >= counted[key] ? now[key] - counted[key] : now[key];
        if (delta > 0) this.inc({ reason: label }, delta);
        counted[key] = now[key];
      }
    },
  });
}
