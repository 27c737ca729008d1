// Pushes across access points: two access points on one nats-server (each its own NATS connection, the services on a
// third). One user's device on B edits a playlist (one insert per edit, one at a time); another device follows it.
// Timed: from the edit's call on B to the push frame carrying that revision on the follower's socket, with the
// follower on A (across access points, through NATS) and, in the same run, on B itself (the same access point:
// what crossing adds is the difference). Also the edit's acknowledgement on B. The target: within 100 ms on loopback.
import { loadavg } from "node:os";
import { playlistContract, pushTopics } from "@soundmesh/protocol";
import { newRandomId } from "@soundmesh/playlist-model";
import { WsClient, natsServerAvailable, setupAdmin } from "@soundmesh/test-kit";
import { startAccessPointsOnNats } from "@soundmesh/test-kit/server";
import { printTable, round, summarize, writeResults, type Row } from "./report";

const edits = Number(process.env.BENCH_EDITS ?? 500);
const warmup = 50;
const TARGET_MS = 100;
const unlimited = { ratePerSecond: 1e6, burst: 1e6 };

if (!natsServerAvailable()) {
  console.log("nats-server is not installed: skipped (apt-get install nats-server)");
  process.exit(0);
}

const cluster = await startAccessPointsOnNats(2, { userRateLimit: unlimited, httpRateLimit: unlimited });
const [onA, onB] = cluster.urls as [string, string];
const token = await setupAdmin(onA, "bench", "bench password");
const editor = await WsClient.connect(onB, token);
const followers = {
  "A (other access point)": await WsClient.connect(onA, token),
  "B (same access point)": await WsClient.connect(onB, token),
};

/** Edits on B one at a time; each sample is call → push of that revision on `follower`, and call → ack on B. */
async function measure(follower: WsClient): Promise<{ pushMs: number[]; ackMs: number[] }> {
  const { playlist } = await editor.call(playlistContract, "create", { name: "bench" });
  const arrivals = new Map<number, number>();
  const waiting = new Map<number, () => void>();
  await follower.follow(pushTopics.playlist(playlist.id), (change) => {
    const at = performance.now();
    for (const { revision } of change.revisions) {
      arrivals.set(revision, at);
      waiting.get(revision)?.();
    }
  });
  const pushMs: number[] = [];
  const ackMs: number[] = [];
  let revision = playlist.revision;
  for (let i = 0; i < warmup + edits; i++) {
    const sent = performance.now();
    const result = await editor.call(playlistContract, "edit", {
      playlistId: playlist.id,
      baseRevision: revision,
      operations: [
        {
          opId: newRandomId(),
          operation: {
            type: "insert",
            afterItemId: "end",
            items: [{ itemId: newRandomId(), trackId: `t${i}` }],
          },
        },
      ],
    });
    const acked = performance.now();
    revision = result.revision;
    if (!arrivals.has(revision)) await new Promise<void>((resolve) => waiting.set(revision, resolve));
    waiting.delete(revision);
    if (i >= warmup) {
      pushMs.push(arrivals.get(revision)! - sent);
      ackMs.push(acked - sent);
    }
  }
  await editor.call(playlistContract, "delete", { playlistId: playlist.id });
  return { pushMs, ackMs };
}

const rows: Row[] = [];
for (const [where, follower] of Object.entries(followers)) {
  const { pushMs, ackMs } = await measure(follower);
  const push = summarize(pushMs);
  const ack = summarize(ackMs);
  rows.push({
    "follower on": where,
    edits: push.count,
    "edit→push p50 ms": round(push.p50, 2),
    "edit→push p99 ms": round(push.p99, 2),
    "p99 ÷ 100 ms target": round(push.p99 / TARGET_MS, 3),
    "edit ack p50 ms": round(ack.p50, 2),
    "edit ack p99 ms": round(ack.p99, 2),
  });
}
printTable("Playlist edit on access point B → push on the follower's socket (NATS, loopback)", rows);
const load = loadavg().map((v) => round(v, 2));
console.log(`load average: ${load.join(" ")}`);
writeResults("cross-access-point", rows, { loadavg: load, targetMs: TARGET_MS });

await Promise.all([editor, ...Object.values(followers)].map((client) => client.close()));
await cluster.stop();
