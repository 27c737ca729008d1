// Cluster mode end to end: `soundmesh cluster` starts 2 access points, 2 search, 3 storage and one of each other
// service on PostgreSQL and a 3-node NATS JetStream cluster; clients sign in, browse, search, stream verified pieces
// through both access points and edit a playlist from two clients on different access points; a storage node joins
// and takes the rendition it now owns from the old owner (a handoff), then leaves. Then faults: kill -9
// the storage node that owns a rendition mid-read (the reads go on from the replica), and kill -9 the NATS node the
// playlist service is connected to while edits are made (it reconnects; no acknowledged edit is lost).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HashRing } from "@soundmesh/bus";
import {
  catalogContract,
  playlistContract,
  searchContract,
  streamManifest,
  type StreamManifest,
} from "@soundmesh/protocol";
import { renditionKey } from "@soundmesh/service-access-point";
import { sampleSockets } from "@soundmesh/service-topology";
import {
  WsClient,
  generateFixtureLibrary,
  login,
  pgTestDatabase,
  shouldRunNatsTests,
  waitUntil,
  writeTone,
  type PgTestDatabase,
} from "@soundmesh/test-kit";
import { builtCliEnv, cliPath, startCluster, type RunningCluster } from "@soundmesh/test-kit/server";

const runNats = shouldRunNatsTests();
const admin = { name: "admin", password: "correct horse battery" };
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let cluster: RunningCluster;
let database: PgTestDatabase | null;
let dataDir: string;
let tokens: string[];
let clients: WsClient[];
let trackIds: string[];
let audioFiles: number;

async function readManifest(url: string, token: string, trackId: string): Promise<StreamManifest> {
  const response = await fetch(`${url}/api/stream/${trackId}/opus96/manifest`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return streamManifest.parse(await response.json());
}

async function readPiece(url: string, token: string, trackId: string, index: number): Promise<Uint8Array> {
  const response = await fetch(`${url}/api/stream/${trackId}/opus96/pieces/${index}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status, `piece ${index}`).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

const nodeOf = (node: string) => cluster.state.processes.find((p) => p.node === node)!;

describe.runIf(runNats)("cluster mode end to end", () => {
  beforeAll(async () => {
    database = await pgTestDatabase();
    if (!database) return;
    const fixture = await generateFixtureLibrary();
    dataDir = mkdtempSync(join(tmpdir(), "soundmesh-cluster-e2e-"));
    // A track long enough for several pieces, to kill a storage node halfway through reading it.
    const longFolder = join(dataDir, "long");
    mkdirSync(longFolder);
    await writeTone(join(longFolder, "longtone.flac"), {
      frequency: 330,
      seconds: 40,
      codec: ["-c:a", "flac"],
      tags: { title: "Longtone Crash", artist: "Ring Test", album: "Failover" },
    });
    audioFiles = fixture.audioFiles + 1;
    cluster = await startCluster(
      dataDir,
      {
        database: database.url,
        nats: { nodes: 3 },
        services: { "access-point": 2, search: 2, storage: 3 },
        library: [fixture.root, longFolder],
        logLevel: "info",
      },
      { SOUNDMESH_ADMIN_NAME: admin.name, SOUNDMESH_ADMIN_PASSWORD: admin.password },
    );
    expect(cluster.state.accessPoints).toHaveLength(2);
    tokens = await Promise.all(
      cluster.state.accessPoints.map((url) => login(url, admin.name, admin.password)),
    );
    clients = await Promise.all(
      cluster.state.accessPoints.map((url, index) => WsClient.connect(url, tokens[index]!, 10_000)),
    );
  }, 300_000);
  afterAll(async () => {
    await Promise.all((clients ?? []).map((client) => client.close()));
    await cluster?.stop();
    await database?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("started every process the file asks for, each service as its own process", () => {
    const nodes = cluster.state.processes.map((p) => p.node).sort();
    expect(nodes).toEqual(
      [
        "access-point-1",
        "access-point-2",
        "catalog-1",
        "events-1",
        "playlist-1",
        "recommend-1",
        "search-1",
        "search-2",
        "storage-1",
        "storage-2",
        "storage-3",
        "topology-1",
        "tracker-1",
        "user-1",
      ].sort(),
    );
    expect(new Set(cluster.state.processes.map((p) => p.pid)).size).toBe(14);
    expect(cluster.state.nats).toHaveLength(3);
  });

  it("signs in, browses and searches through both access points", async () => {
    const [first, second] = clients as [WsClient, WsClient];
    await waitUntil(
      () => first.call(catalogContract, "scanStatus", {}),
      (status) => status.added === audioFiles,
      60_000,
    );
    const recent = await second.call(catalogContract, "recentlyAdded", { limit: 50 });
    expect(recent.items.length).toBeGreaterThan(0);
    // Both search replicas build from the catalog's events; queries go to either, so ask until both have it.
    for (const client of clients) {
      await waitUntil(
        () => client.call(searchContract, "query", { q: "starálfur", kinds: ["track"] }),
        (result) => result.hits.length === 1,
        60_000,
      );
    }
    for (let i = 0; i < 6; i += 1) {
      const { hits } = await clients[i % 2]!.call(searchContract, "query", { q: "sigur r" });
      expect(hits.map((hit) => hit.title)).toContain("Sigur Rós");
    }
    const tracks = await first.call(searchContract, "query", { q: "a", kinds: ["track"], limit: 50 });
    trackIds = tracks.hits.map((hit) => hit.id);
    expect(trackIds.length).toBeGreaterThanOrEqual(3);
  }, 150_000);

  it("streams a track whose every piece matches the manifest, through either access point", async () => {
    const trackId = trackIds[0]!;
    const [url1, url2] = cluster.state.accessPoints as [string, string];
    const manifest = await readManifest(url1, tokens[0]!, trackId);
    expect(manifest.pieceCount).toBeGreaterThan(0);
    for (let index = 0; index < manifest.pieceCount; index += 1) {
      const url = index % 2 === 0 ? url1 : url2;
      const token = tokens[index % 2]!;
      expect(sha(await readPiece(url, token, trackId, index)), `piece ${index}`).toBe(
        manifest.pieceHashes[index],
      );
    }
    expect((await readManifest(url2, tokens[1]!, trackId)).pieceHashes).toEqual(manifest.pieceHashes);
  }, 120_000);

  it("edits a playlist from two clients on different access points; both see every edit", async () => {
    const [first, second] = clients as [WsClient, WsClient];
    const created = await first.call(playlistContract, "create", {
      name: "Shared",
      trackIds: [trackIds[0]!],
    });
    const playlistId = created.playlist.id;
    const base = created.playlist.revision;
    // Both edit the same base revision at once: the second is rebased onto the first, nothing is lost.
    await Promise.all(
      [first, second].map((client, index) =>
        client.call(playlistContract, "edit", {
          playlistId,
          baseRevision: base,
          operations: [
            {
              opId: `two-clients-op-${index}`,
              operation: {
                type: "insert",
                afterItemId: "end",
                items: [{ itemId: `shared-item-${index}`, trackId: trackIds[index + 1]! }],
              },
            },
          ],
        }),
      ),
    );
    for (const client of clients) {
      const snapshot = await client.call(playlistContract, "get", { playlistId });
      expect(snapshot.items.map((item) => item.itemId)).toEqual(
        expect.arrayContaining(["shared-item-0", "shared-item-1"]),
      );
      expect(snapshot.playlist.itemCount).toBe(3);
    }
  }, 60_000);

  it("a storage node that joins takes the renditions it now owns from their old owner, then leaves cleanly", async () => {
    const trackId = trackIds[0]!;
    const [url] = cluster.state.accessPoints as [string];
    const key = renditionKey(trackId, "opus96");
    const three = ["storage-1", "storage-2", "storage-3"];
    // A name the hash makes the new owner of this track's rendition (the ring decides, not the test).
    let node = "storage-4";
    for (let i = 5; new HashRing([...three, node]).owners(key)[0] !== node; i += 1) node = `storage-${i}`;
    const before = await readManifest(url, tokens[0]!, trackId);
    const ringLines = () =>
      cluster
        .log("access-point-1")
        .split("\n")
        .filter((line) => line.includes("storage ring changed"));
    const seenBefore = ringLines().length;
    const child = spawn(
      process.execPath,
      [
        ...[cliPath, "service", "storage", "--node", node, "--data-dir", join(dataDir, node)],
        ...["--database-url", database!.url, "--keys", join(dataDir, "nats", "keys")],
        ...["--nats", ...cluster.state.nats.map((n) => n.url)],
      ],
      {
        env: { ...process.env, ...builtCliEnv, SOUNDMESH_LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await waitUntil(
        () => output,
        (text) => text.includes(`ready storage ${node}`),
        120_000,
        100,
      );
      await waitUntil(
        () => ringLines().slice(seenBefore),
        (lines) => lines.some((line) => line.includes(`"${node}"`)),
        30_000,
        100,
      );
      const after = await readManifest(url, tokens[0]!, trackId);
      expect(after.pieceHashes).toEqual(before.pieceHashes);
      for (let index = 0; index < after.pieceCount; index += 1)
        expect(sha(await readPiece(url, tokens[0]!, trackId, index)), `piece ${index}`).toBe(
          before.pieceHashes[index],
        );
      // The new owner answered from the old owner's bytes: its log says so, with the rendition's size.
      expect(output).toContain("rendition taken by handoff");
      expect(output).toContain(`"sizeBytes":${before.sizeBytes}`);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    // A clean stop deletes its ring entry: the access point is back to the three nodes at once.
    await waitUntil(
      () => ringLines().at(-1) ?? "",
      (line) => line.includes(`"nodes":${JSON.stringify(three)}`),
      30_000,
      100,
    );
  }, 240_000);

  it("goes on reading a rendition from the replica when its owning storage node is killed mid-read", async () => {
    const [first] = clients as [WsClient];
    const found = await first.call(searchContract, "query", { q: "longtone", kinds: ["track"] });
    const trackId = found.hits[0]!.id;
    const [url] = cluster.state.accessPoints as [string];
    const ring = new HashRing(["storage-1", "storage-2", "storage-3"]);
    const [owner, replica] = ring.owners(renditionKey(trackId, "opus96"), 2) as [string, string];
    const manifest = await readManifest(url, tokens[0]!, trackId);
    expect(manifest.pieceCount).toBeGreaterThan(1);
    const half = Math.ceil(manifest.pieceCount / 2);
    for (let index = 0; index < half; index += 1) {
      expect(sha(await readPiece(url, tokens[0]!, trackId, index))).toBe(manifest.pieceHashes[index]);
    }
    process.kill(nodeOf(owner).pid, "SIGKILL");
    for (let index = half; index < manifest.pieceCount; index += 1) {
      expect(sha(await readPiece(url, tokens[0]!, trackId, index)), `piece ${index}`).toBe(
        manifest.pieceHashes[index],
      );
    }
    // The access point says it moved past the dead owner to the replica (or the origin).
    const log = cluster.log("access-point-1");
    expect(log).toContain(`"misses":[{"node":"${owner}"`);
    expect(replica).not.toBe(owner);
  }, 120_000);

  it("keeps every acknowledged playlist edit when the NATS node the playlist service uses is killed", async () => {
    const playlist = nodeOf("playlist-1");
    const natsPorts = new Map(
      cluster.state.nats.map((node) => [node.url.replace("nats://", ""), node] as const),
    );
    const sockets = await sampleSockets(playlist.pid);
    const connected = sockets.find(
      (socket) => socket.state === "established" && natsPorts.has(socket.remote),
    );
    expect(connected, JSON.stringify(sockets)).toBeDefined();
    const natsNode = natsPorts.get(connected!.remote)!;
    const [first] = clients as [WsClient];
    const created = await first.call(playlistContract, "create", {
      name: "Through a broker crash",
      trackIds: [],
    });
    const playlistId = created.playlist.id;
    const acknowledged: string[] = [];
    // Edits go on while the broker node dies: each one acknowledged must be in the playlist afterwards. A failed
    // edit (UNAVAILABLE/TIMEOUT while the service reconnects) is sent again with the same opId, as clients do.
    const edit = async (index: number) => {
      const itemId = `crash-item-${index}`;
      const params = {
        playlistId,
        baseRevision: 0,
        operations: [
          {
            opId: `crash-op-${index}`,
            operation: {
              type: "insert" as const,
              afterItemId: "end",
              items: [{ itemId, trackId: trackIds[0]! }],
            },
          },
        ],
      };
      await waitUntil(
        () =>
          first.call(playlistContract, "edit", params).then(
            () => true,
            () => false,
          ),
        (ok) => ok,
        60_000,
        200,
      );
      acknowledged.push(itemId);
    };
    for (let index = 0; index < 5; index += 1) await edit(index);
    process.kill(natsNode.pid, "SIGKILL");
    for (let index = 5; index < 15; index += 1) await edit(index);
    const snapshot = await first.call(playlistContract, "get", { playlistId });
    expect(snapshot.items.map((item) => item.itemId).sort()).toEqual([...acknowledged].sort());
    expect(snapshot.playlist.itemCount).toBe(15);
    // The playlist service is now connected to another node.
    const after = await sampleSockets(playlist.pid);
    expect(
      after.some(
        (socket) =>
          socket.state === "established" &&
          natsPorts.has(socket.remote) &&
          socket.remote !== connected!.remote,
      ),
    ).toBe(true);
  }, 120_000);
});
