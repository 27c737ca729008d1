// The headless peer's listening events: a real `soundmesh peer` process sends them through its file outbox to a real
// `soundmesh serve` process; events made while the server is killed stay in the outbox across a restart of the
// peer and reach the restarted server once, each counted once.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOutbox } from "@soundmesh/server";
import { eventsContract, searchContract } from "@soundmesh/protocol";
import { WsClient, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath, spawnServer, type ChildServer } from "@soundmesh/test-kit/server";
import { generateP2pLibrary } from "./p2p-library";

const serverDir = mkdtempSync(join(tmpdir(), "soundmesh-peer-events-server-"));
const peerDir = mkdtempSync(join(tmpdir(), "soundmesh-peer-events-peer-"));
const outboxPath = join(peerDir, "events-outbox.jsonl");
const password = "correct horse battery";
let library: string;
let server: ChildServer | undefined;

interface PeerRun {
  process: ReturnType<typeof spawn>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function runPeer(url: string, trackId: string, extra: string[]): PeerRun {
  const child = spawn(
    process.execPath,
    [
      cliPath,
      "peer",
      "--server",
      url,
      "--user",
      "admin",
      "--track",
      trackId,
      "--data-dir",
      peerDir,
      ...extra,
    ],
    {
      env: { ...process.env, ...builtCliEnv, SOUNDMESH_PASSWORD: password },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    process: child,
    done: new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr }))),
  };
}

interface StoredLine {
  k: string;
  event?: { id: string; type: string; trackId: string };
}

/** Every event the server stored, read from its bucket files. */
function storedEvents(): Array<{ id: string; type: string; trackId: string }> {
  const dir = join(serverDir, "events");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".jsonl"))
    .flatMap((name) =>
      readFileSync(join(dir, name), "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as StoredLine),
    )
    .flatMap((line) => (line.k === "e" && line.event ? [line.event] : []));
}

beforeAll(async () => {
  library = await generateP2pLibrary(2, 20);
}, 120_000);

afterAll(() => {
  server?.process.kill("SIGKILL");
  rmSync(serverDir, { recursive: true, force: true });
  rmSync(peerDir, { recursive: true, force: true });
});

describe("the headless peer's listening events", () => {
  it("survive a server outage and a restart of the peer in the file outbox, and count once", async () => {
    server = await spawnServer(serverDir, { SOUNDMESH_LIBRARY: library }, 60_000);
    const token = await setupAdmin(server.url, "admin", password);
    let ws = await WsClient.connect(server.url, token);
    const tracks = await waitUntil(
      () =>
        ws.call(searchContract, "query", {
          q: "tone",
          kinds: ["track"],
        }),
      (result) => result.hits.length === 2,
      60_000,
    );
    const [first, second] = [...tracks.hits]
      .sort((a, b) => a.title.localeCompare(b.title))
      .map((hit) => hit.id);
    await ws.close();

    // Run 1: plays at real time; its first events reach the server, then the server is killed.
    const run1 = runPeer(server.url, first!, ["--speed", "1", "--events-drain-seconds", "2"]);
    // Sent and acknowledged: stored by the server, and the outbox compacted to nothing.
    await waitUntil(
      () => ({
        stored: storedEvents().filter((event) => event.trackId === first).length,
        outbox: existsSync(outboxPath) ? readFileSync(outboxPath, "utf8") : null,
      }),
      ({ stored, outbox }) => stored >= 2 && outbox === "",
      60_000,
    );
    const storedBeforeKill = storedEvents().map((event) => event.id);
    expect(storedBeforeKill.length).toBeGreaterThanOrEqual(2);
    server.process.kill("SIGKILL");
    await server.exited;
    // The peer is stopped while the server is down: its play.ended and source.bytes cannot be sent.
    run1.process.kill("SIGTERM");
    const result1 = await run1.done;
    expect(result1.code, result1.stderr).toBe(0);
    const report1 = JSON.parse(result1.stdout) as { events: { sent: number; pending: number } };
    expect(report1.events.pending).toBeGreaterThanOrEqual(2);
    const waiting = (await readOutbox(outboxPath)).waiting;
    expect(waiting.length).toBe(report1.events.pending);
    expect(waiting.map((event) => event.type)).toContain("play.ended");
    for (const event of waiting) expect(storedBeforeKill).not.toContain(event.id);

    // Run 2 against the restarted server (same data dir): the waiting events go first, then this run's own.
    server = await spawnServer(serverDir, {}, 60_000);
    const run2 = runPeer(server.url, second!, ["--speed", "16", "--events-drain-seconds", "30"]);
    const result2 = await run2.done;
    expect(result2.code, result2.stderr).toBe(0);
    const report2 = JSON.parse(result2.stdout) as { events: { sent: number; pending: number } };
    expect(report2.events.pending).toBe(0);
    expect(report2.events.sent).toBeGreaterThanOrEqual(waiting.length + 4);
    // Everything acknowledged: the outbox is compacted to nothing.
    expect(readFileSync(outboxPath, "utf8")).toBe("");

    const stored = storedEvents();
    const ids = stored.map((event) => event.id);
    expect(new Set(ids).size, "every event stored once").toBe(ids.length);
    for (const event of waiting) expect(ids.filter((id) => id === event.id)).toHaveLength(1);
    expect(ids.length).toBeGreaterThanOrEqual(storedBeforeKill.length + waiting.length + 4);

    // The second track was heard to its end at 16x: one play in the listening history.
    ws = await WsClient.connect(server.url, token);
    const recent = await ws.call(eventsContract, "recentlyPlayed", { limit: 10 });
    // The server's figures: each event the peer runs had acknowledged is stored, or was dropped as a duplicate of
    // one stored (a resend after an acknowledgement lost to the kill).
    const buckets = await ws.call(eventsContract, "buckets", {
      limit: 100,
    });
    expect(buckets.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(ids.length);
    expect(
      buckets.reduce((sum, bucket) => sum + bucket.count + bucket.duplicatesDropped, 0),
    ).toBeGreaterThanOrEqual(report1.events.sent + report2.events.sent);
    expect(recent.filter((play) => play.trackId === second)).toHaveLength(1);
    await ws.close();
    server.process.kill("SIGTERM");
    await server.exited;
    server = undefined;
  }, 240_000);
});
