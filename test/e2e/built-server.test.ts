// What ships, end to end: `soundmesh serve` and `soundmesh peer` run from the esbuild build (apps/server/dist) and
// still find what lives outside the bundle: the web player's files, ffmpeg, sharp, and node-datachannel's WebRTC.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamManifest, searchContract, trackerContract, catalogContract } from "@soundmesh/protocol";
import { WsClient, generateFixtureLibrary, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath, spawnServer, type ChildServer } from "@soundmesh/test-kit/server";
import { P2P_TRACK_SECONDS, generateP2pLibrary } from "./p2p-library";

const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-built-"));
const password = "correct horse battery";
const webIndex = fileURLToPath(new URL("../../apps/web/dist/index.html", import.meta.url));
let server: ChildServer;
let token: string;
let ws: WsClient;
const get = (path: string) =>
  fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

async function trackIdOf(query: string): Promise<string> {
  const result = await ws.call(searchContract, "query", {
    q: query,
    kinds: ["track"],
  });
  return result.hits[0]!.id;
}

beforeAll(async () => {
  const fixture = await generateFixtureLibrary();
  const tones = await generateP2pLibrary(1, P2P_TRACK_SECONDS);
  server = await spawnServer(dataDir, { SOUNDMESH_LIBRARY: [fixture.root, tones].join(delimiter) }, 60_000);
  token = await setupAdmin(server.url, "admin", password);
  ws = await WsClient.connect(server.url, token);
  await waitUntil(
    () => ws.call(catalogContract, "scanStatus"),
    (status) => !status.running && status.added === fixture.audioFiles + 1,
    60_000,
  );
  await waitUntil(
    () => ws.call(searchContract, "query", { q: "starálfur", kinds: ["track"] }),
    (result) => result.hits.length === 1,
    30_000,
  );
}, 180_000);

afterAll(async () => {
  await ws?.close();
  server?.process.kill("SIGTERM");
  await server?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the built server", () => {
  it("runs from apps/server/dist", () => {
    expect(server.output()).not.toContain("TypeScript sources");
  });

  it("serves the web player's build and its scripts", async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toBe(readFileSync(webIndex, "utf8"));
    const script = /<script[^>]+src="(\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);
  });

  it("transcodes with ffmpeg and serves pieces that match the manifest", async () => {
    const trackId = await trackIdOf("starálfur");
    const manifest = streamManifest.parse(await (await get(`/api/stream/${trackId}/opus96/manifest`)).json());
    expect(manifest).toMatchObject({ trackId, profile: "opus96", codec: "opus" });
    const piece = new Uint8Array(await (await get(`/api/stream/${trackId}/opus96/pieces/0`)).arrayBuffer());
    expect(createHash("sha256").update(piece).digest("hex")).toBe(manifest.pieceHashes[0]);
  });

  it("serves cover art resized by sharp", async () => {
    const track = await ws.call(catalogContract, "track", {
      trackId: await trackIdOf("starálfur"),
    });
    const cover = await get(`/api/cover/${track.albumId}?size=64`);
    expect(cover.status).toBe(200);
    expect(cover.headers.get("content-type")).toBe("image/jpeg");
    const bytes = new Uint8Array(await cover.arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
  });
});

interface PeerRun {
  process: ReturnType<typeof spawn>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function runPeer(trackId: string, extra: string[]): PeerRun {
  const child = spawn(
    process.execPath,
    [cliPath, "peer", "--server", server.url, "--user", "admin", "--track", trackId, ...extra],
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

interface PeerReport {
  bytes: { bySource: { peer: number; server: number } };
  overlay?: { bytesUploaded: number };
  stutters: number;
}

describe("the built headless peer", () => {
  it("plays a track, and a second one gets pieces from the first over WebRTC", async () => {
    const trackId = await trackIdOf("tone");
    const holder = runPeer(trackId, ["--speed", "16", "--linger-seconds", "120"]);
    try {
      // The holder has played the whole track once the tracker lists it as a complete holder.
      await waitUntil(
        () =>
          ws.call(trackerContract, "query", {
            trackId,
            profile: "opus96",
          }),
        (result) => result.peers.some((peer) => peer.complete),
        60_000,
      );
      const listener = await runPeer(trackId, ["--speed", "8"]).done;
      expect(listener.code, listener.stderr).toBe(0);
      const report = JSON.parse(listener.stdout) as PeerReport;
      expect(report.bytes.bySource.peer, listener.stdout).toBeGreaterThan(0);
      expect(report.stutters).toBe(0);
    } finally {
      holder.process.kill("SIGTERM");
    }
    const held = await holder.done;
    expect(held.code, held.stderr).toBe(0);
    expect((JSON.parse(held.stdout) as PeerReport).overlay?.bytesUploaded).toBeGreaterThan(0);
  }, 120_000);
});
