// Cluster mode end to end: `soundmesh cluster` starts 2 access points, 2 search, 3 storage and one of each other
// service on PostgreSQL and a 3-node NATS JetStream cluster; clients sign in, browse, search, stream verified pieces
// through both access points and edit a playlist from two clients on different access points; a storage node joins
// and takes the rendition it now owns from the old owner (a handoff), then leaves. Then faults: kill -9
// the storage node that owns a rendition mid-read (the reads go on from the replica), and kill -9 the NATS node the
// playlist service is connected to while edits are made (it reconnects; no acknowledged edit is lost), and kill -9
// an access point while its clients edit a playlist (they move to the other; every edit is applied once), a web
// player in Chromium behind a load balancer among them. Album covers come from the storage node owning them on the
// ring, every process's calls are on the live map, and the supervisor starts a killed process again, gives up on
// one whose restarts fail at once, and restarts nothing on SIGINT.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HashRing } from "@soundmesh/bus";
import { PlaylistSync } from "@soundmesh/playlist-model";
import {
  catalogContract,
  playlistContract,
  pushTopics,
  searchContract,
  streamManifest,
  type StreamManifest,
} from "@soundmesh/protocol";
import { coverKey, renditionKey } from "@soundmesh/service-access-point";
import { decodeProcAddress, sampleSockets, socketInodes } from "@soundmesh/service-topology";
import {
  WsClient,
  generateFixtureLibrary,
  login,
  pgTestDatabase,
  shouldRunNatsTests,
  startTcpProxy,
  waitUntil,
  writeTone,
  type PgTestDatabase,
} from "@soundmesh/test-kit";
import type { Page } from "playwright-core";
import { launchChromium, requireChromium, signIn } from "@soundmesh/test-kit/browser";
import { builtCliEnv, cliPath, startCluster, type RunningCluster } from "@soundmesh/test-kit/server";

const runNats = shouldRunNatsTests();
const hasChromium = runNats && requireChromium("the cluster's web player through an access point crash");
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

/** A process as cluster-state.json says now (the supervisor rewrites it: a restarted process has a new pid). */
const nodeOf = (node: string) => cluster.readState().processes.find((p) => p.node === node)!;

interface TopologyBody {
  nodes: Array<{ id: string; kind: string; instances: Array<{ pid: number; live: boolean }> }>;
  edges: Array<{ source: string; target: string; kind: string; requests: number }>;
}

/** Things a test started that afterAll stops before the cluster (a browser, a balancer). */
const cleanups: Array<() => Promise<void>> = [];

/** The titles of a playlist page's rows, in order. */
const rowTitles = async (page: Page) =>
  (await page.locator(".tracks .track-main .title").allInnerTexts()).map((text) => text.split("\n")[0]);

/** Bytes sent to process `pid` by the NATS nodes that it has not read yet (receive queues in /proc/<pid>/net/tcp). */
async function unreadFromNats(pid: number): Promise<number> {
  const natsAddresses = new Set(cluster.state.nats.map((node) => node.url.replace("nats://", "")));
  const [inodes, table] = await Promise.all([socketInodes(pid), readFile(`/proc/${pid}/net/tcp`, "utf8")]);
  let bytes = 0;
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !inodes.has(fields[9]!)) continue;
    if (!natsAddresses.has(decodeProcAddress(fields[2]!))) continue;
    bytes += Number.parseInt(fields[4]!.split(":")[1]!, 16);
  }
  return bytes;
}

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
        // Short back-off and an early give-up, so the supervisor's tests take seconds.
        restart: { initialDelayMs: 200, maxFastFailures: 3 },
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
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await Promise.all((clients ?? []).map((client) => client.close()));
    await cluster?.stop();
    await database?.drop();
    if (dataDir && !process.env.KEEP_CLUSTER) rmSync(dataDir, { recursive: true, force: true });
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
    // Listed in the file's order, whichever was ready first: the first access point is access-point-1.
    expect(cluster.state.accessPoints).toEqual([nodeOf("access-point-1").url, nodeOf("access-point-2").url]);
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

  it("serves album covers through both access points from the storage node that owns them, on its disk", async () => {
    const [first] = clients as [WsClient];
    const [url1, url2] = cluster.state.accessPoints as [string, string];
    const albums = (await first.call(catalogContract, "recentlyAdded", { limit: 50 })).items.filter(
      (album) => album.hasCover,
    );
    expect(albums.length).toBeGreaterThanOrEqual(2);
    const ring = new HashRing(["storage-1", "storage-2", "storage-3"]);
    const getCover = async (url: string, token: string, albumId: string, size: number) => {
      const response = await fetch(`${url}/api/cover/${albumId}?size=${size}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status, `${albumId} at ${size}`).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/jpeg");
      return Buffer.from(await response.arrayBuffer());
    };
    for (const album of albums) {
      for (const size of [64, 300]) {
        const viaFirst = await getCover(url1, tokens[0]!, album.id, size);
        expect(viaFirst.subarray(0, 2).toString("hex")).toBe("ffd8");
        expect(await getCover(url2, tokens[1]!, album.id, size)).toEqual(viaFirst);
        // Kept by the owning node alone (the replica is asked only when the owner fails).
        const [owner] = ring.owners(coverKey(album.id, size), 2) as [string];
        const coverFile = (node: string) => join(dataDir, node, "covers", `${album.id}-${size}.jpg`);
        expect(readFileSync(coverFile(owner))).toEqual(viaFirst);
        for (const node of ["storage-1", "storage-2", "storage-3"].filter((n) => n !== owner))
          expect(existsSync(coverFile(node)), `${node} holds ${album.id}-${size}`).toBe(false);
      }
    }
    // What the access points answer is the owner's file: changed on its disk, the change is what both serve.
    const [album] = albums as [(typeof albums)[number]];
    const [owner] = ring.owners(coverKey(album.id, 300), 2) as [string];
    const file = join(dataDir, owner, "covers", `${album.id}-300.jpg`);
    const other = readFileSync(
      join(dataDir, ring.owners(coverKey(album.id, 64), 1)[0]!, "covers", `${album.id}-64.jpg`),
    );
    writeFileSync(file, other);
    expect(await getCover(url1, tokens[0]!, album.id, 300)).toEqual(other);
    expect(await getCover(url2, tokens[1]!, album.id, 300)).toEqual(other);
    // The catalog keeps none on its own disk in a cluster.
    expect(existsSync(join(dataDir, "shared", "cache", "covers"))).toBe(false);
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

  it("shows every process's calls on the live map, not only the topology process's", async () => {
    const [first] = clients as [WsClient];
    const callEdges = (body: TopologyBody) =>
      new Set(
        body.edges.filter((e) => e.kind === "call" && e.requests > 0).map((e) => `${e.source}->${e.target}`),
      );
    const wanted = [
      "access-point->catalog",
      "access-point->search",
      "access-point->playlist",
      "access-point->storage",
      "playlist->catalog",
      "storage->catalog",
    ];
    // Calls along each edge, made again while waiting (each process reports every 5 s; the map counts a window).
    const body = await waitUntil(
      async () => {
        await first.call(catalogContract, "recentlyAdded", { limit: 5 });
        await first.call(searchContract, "query", { q: "sigur" });
        await first.call(playlistContract, "create", { name: "Mapped", trackIds: [trackIds[2]!] });
        await readManifest(cluster.state.accessPoints[0]!, tokens[0]!, trackIds[0]!);
        const response = await fetch(`${cluster.state.accessPoints[0]}/api/topology`, {
          headers: { authorization: `Bearer ${tokens[0]}` },
        });
        return (await response.json()) as TopologyBody;
      },
      (topology) => wanted.every((edge) => callEdges(topology).has(edge)),
      60_000,
      1_000,
    );
    // Each of those services is live on the map with its own processes (two search replicas, three storage nodes).
    const live = (id: string) =>
      body.nodes.find((n) => n.id === id)?.instances.filter((instance) => instance.live).length ?? 0;
    expect(live("access-point")).toBe(2);
    expect(live("search")).toBe(2);
    expect(live("storage")).toBe(3);
    expect(live("catalog")).toBe(1);
    const pids = new Set(cluster.state.processes.map((p) => p.pid));
    for (const node of body.nodes.filter((n) => n.kind === "service")) {
      for (const instance of node.instances) expect(pids.has(instance.pid), node.id).toBe(true);
    }
  }, 90_000);

  it("starts a service killed with kill -9 again, records the restart, and it answers", async () => {
    const before = nodeOf("catalog-1");
    process.kill(before.pid, "SIGKILL");
    const after = await waitUntil(
      () => nodeOf("catalog-1"),
      (p) => p.status === "running" && p.pid !== before.pid,
      120_000,
      100,
    );
    expect(after.restarts).toBe(1);
    expect(after.lastExit).toMatchObject({
      pid: before.pid,
      signal: "SIGKILL",
      code: null,
      beforeReady: false,
    });
    // The cluster's stderr reaches this process through a pipe, which may be read after the state file.
    await waitUntil(
      () => cluster.output(),
      (output) =>
        new RegExp(`catalog-1 \\(pid ${before.pid}\\) exited \\(SIGKILL\\); restarting in 0\\.2 s`).test(
          output,
        ) && new RegExp(`catalog-1 restarted \\(pid ${after.pid}, restart 1\\)`).test(output),
      30_000,
      100,
    );
    // The log file is written by the cluster process from the child's pipe: the second ready line may land after
    // the state says "running".
    await waitUntil(
      () => cluster.log("catalog-1").match(/^ready catalog catalog-1$/gm)?.length ?? 0,
      (readyLines) => readyLines === 2,
      30_000,
      100,
    );
    // The new process answers through either access point.
    for (const client of clients) {
      const recent = await waitUntil(
        () => client.call(catalogContract, "recentlyAdded", { limit: 50 }).catch(() => undefined),
        (answer) => (answer?.items.length ?? 0) > 0,
        60_000,
        200,
      );
      expect(recent!.items.length).toBeGreaterThan(0);
    }
  }, 180_000);

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
    // The supervisor would start it again within a second (and the bus retries a request without responders for
    // 2 s): with its key moved away it cannot come back while the rest is read.
    const keys = join(dataDir, "nats", "keys");
    renameSync(join(keys, "storage.nk"), join(keys, "storage.nk.away"));
    process.kill(nodeOf(owner).pid, "SIGKILL");
    for (let index = half; index < manifest.pieceCount; index += 1) {
      expect(sha(await readPiece(url, tokens[0]!, trackId, index)), `piece ${index}`).toBe(
        manifest.pieceHashes[index],
      );
    }
    // The access point says it moved past the dead owner to the replica (or the origin). Its log reaches the file
    // through the cluster process's pipe, so the line may land a little after the piece did.
    await waitUntil(
      () => cluster.log("access-point-1"),
      (log) => log.includes(`"misses":[{"node":"${owner}"`),
      30_000,
      100,
    );
    expect(replica).not.toBe(owner);
    await waitUntil(
      () => nodeOf(owner),
      (p) => p.status === "gave-up",
      60_000,
      100,
    );
    renameSync(join(keys, "storage.nk.away"), join(keys, "storage.nk"));
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
    // The playlist service is connected to a node again (another, or the killed one back).
    const after = await sampleSockets(playlist.pid);
    expect(after.some((socket) => socket.state === "established" && natsPorts.has(socket.remote))).toBe(true);
    // The supervisor started the killed nats-server again on its port and store, and recorded it.
    await waitUntil(
      () => cluster.readState().nats.find((node) => node.name === natsNode.name)!,
      (node) => node.status === "running" && node.restarts === 1 && node.pid !== natsNode.pid,
      60_000,
      200,
    );
    const [host, port] = natsNode.url.replace("nats://", "").split(":") as [string, string];
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), host, () => {
        socket.end();
        resolve();
      });
      socket.once("error", reject);
    });
  }, 120_000);
  it("moves the clients of an access point killed with -9 to the other: each edit applied once, pushes go on", async () => {
    const [urlA, urlB] = cluster.state.accessPoints as [string, string];
    const accessPointA = cluster.readState().processes.find((p) => p.url === urlA)!;
    expect(accessPointA.service).toBe("access-point");
    const observer = clients[1]!;
    expect(observer.url).toContain(new URL(urlB).host);
    const { playlist } = await observer.call(playlistContract, "create", {
      name: "Through an access point crash",
      trackIds: [],
    });
    // Three players on A that know B, each editing through PlaylistSync (the web player's queue and sync).
    const players = await Promise.all(
      [0, 1, 2].map(() =>
        WsClient.connect(
          urlA,
          tokens[0]!,
          10_000,
          {},
          {
            reconnect: { baseMs: 100, maxMs: 1_000 },
            fallbackUrls: [urlB],
          },
        ),
      ),
    );
    clients.push(...players);
    // And a client given A's address alone: A's hello names B, and it moves there when A dies.
    const lone = await WsClient.connect(
      urlA,
      tokens[0]!,
      10_000,
      {},
      { reconnect: { baseMs: 100, maxMs: 1_000 } },
    );
    clients.push(lone);
    const socketOf = (url: string) => `${url.replace(/^http/, "ws")}/ws`;
    await waitUntil(
      () => lone.knownUrls,
      (urls) => urls.includes(socketOf(urlB)),
      30_000,
      100,
    );
    // And a web player behind a load balancer (each connection to A, or to B once A refuses), showing a playlist.
    const balancer = await startTcpProxy([urlA, urlB]);
    const balancerUrl = `http://${balancer.host}`;
    cleanups.push(() => balancer.kill());
    const shown = trackIds.slice(0, 3);
    const found = await observer.call(catalogContract, "tracks", { trackIds: shown });
    const titleOf = (trackId: string) => found.find((track) => track.id === trackId)!.title;
    const { playlist: webList } = await observer.call(playlistContract, "create", {
      name: "Web player through a crash",
      trackIds: shown.slice(0, 2),
    });
    let page: Page | undefined;
    if (hasChromium) {
      const browser = await launchChromium();
      cleanups.push(() => browser.close());
      const webPage = await browser.context.newPage();
      await signIn(webPage, balancerUrl, admin.name, admin.password);
      await webPage.goto(`${balancerUrl}/#/playlist/${webList.id}`);
      await expect.poll(() => rowTitles(webPage)).toEqual(shown.slice(0, 2).map(titleOf));
      page = webPage;
    }
    expect(balancer.routed.get(urlB)).toBeUndefined();
    const syncs = await Promise.all(players.map((player) => PlaylistSync.open(player, playlist.id)));
    // An edit sent twice and applied twice would be refused the second time (its item is there): none may be.
    const refused: string[] = [];
    for (const sync of syncs) sync.model.onRejected((op, error) => refused.push(`${op.opId}: ${error.code}`));
    const pushedOpIds = players.map(() => new Set<string>());
    players.forEach((player, index) =>
      player.subscribe(pushTopics.playlist(playlist.id), (change) => {
        for (const revision of change.revisions) pushedOpIds[index]!.add(revision.opId);
      }),
    );
    const made: string[] = [];
    const edit = (round: string) =>
      syncs.forEach((sync, index) => {
        const trackId = `ap-crash-${round}-${index}`;
        made.push(trackId);
        sync.model.append([trackId]);
      });
    const allConfirmed = () => syncs.every((sync) => sync.model.pending.length === 0);
    edit("acknowledged");
    await waitUntil(allConfirmed, (done) => done, 30_000);
    // In flight: A has passed these edits on to the playlist service, frozen, which applies them only after A died,
    // so no player hears that they were. Each player sends them again through B (same opIds) with the edit it made
    // meanwhile: the service must answer the repeated ones with their first revisions, not apply them twice.
    const playlistService = nodeOf("playlist-1").pid;
    const keys = join(dataDir, "nats", "keys");
    const unreadBefore = await unreadFromNats(playlistService);
    const dropped = players.map(() => false);
    players.forEach((player, index) =>
      player.onStateChange((state) => {
        if (state === "reconnecting") dropped[index] = true;
      }),
    );
    process.kill(playlistService, "SIGSTOP");
    try {
      edit("in-flight");
      // Three edit requests (headers and JSON, a few hundred bytes each) wait in the frozen service's socket.
      await waitUntil(
        () => unreadFromNats(playlistService),
        (bytes) => bytes >= unreadBefore + 3 * 200,
        30_000,
      );
      // The supervisor would start A again within a second, on its port: with the key moved away its restarts fail
      // at once, so A stays gone, as a machine that died would.
      renameSync(join(keys, "access-point.nk"), join(keys, "access-point.nk.away"));
      process.kill(accessPointA.pid, "SIGKILL");
      await waitUntil(
        () => dropped,
        (all) => all.every(Boolean),
        30_000,
      );
      edit("queued");
    } finally {
      process.kill(playlistService, "SIGCONT");
    }
    const onB = players[0]!.url.replace(new URL(urlA).host, new URL(urlB).host);
    await waitUntil(
      () => players.map((player) => `${player.state} ${player.url}`),
      (states) => states.every((state) => state === `open ${onB}`),
      60_000,
    );
    await waitUntil(allConfirmed, (done) => done, 60_000);
    expect(refused).toEqual([]);
    await waitUntil(
      () => `${lone.state} ${lone.url}`,
      (state) => state === `open ${socketOf(urlB)}`,
      60_000,
    );
    expect((await lone.call(playlistContract, "get", { playlistId: playlist.id })).playlist.id).toBe(
      playlist.id,
    );
    await waitUntil(
      () => nodeOf(accessPointA.node),
      (p) => p.status === "gave-up",
      60_000,
      100,
    );
    renameSync(join(keys, "access-point.nk.away"), join(keys, "access-point.nk"));
    // Every edit is in the playlist exactly once: an opId sent to A and again to B was applied once.
    const stored = await observer.call(playlistContract, "get", { playlistId: playlist.id });
    expect(stored.items.map((item) => item.trackId).sort()).toEqual([...made].sort());
    const history = await observer.call(playlistContract, "changesSince", {
      playlistId: playlist.id,
      revision: 0,
    });
    const opIds = history.kind === "revisions" ? history.revisions.map((revision) => revision.opId) : [];
    expect(opIds).toHaveLength(made.length);
    expect(new Set(opIds).size).toBe(made.length);
    // Pushes reach the players on B: an edit made by another client shows up in each one's playlist.
    const opId = "ap-crash-after";
    await observer.call(playlistContract, "edit", {
      playlistId: playlist.id,
      baseRevision: stored.playlist.revision,
      operations: [
        {
          opId,
          operation: {
            type: "insert",
            afterItemId: "end",
            items: [{ itemId: "ap-crash-after-item", trackId: "ap-crash-after" }],
          },
        },
      ],
    });
    await waitUntil(
      () => pushedOpIds.map((seen) => seen.has(opId)),
      (seen) => seen.every(Boolean),
      30_000,
    );
    for (const sync of syncs) {
      await waitUntil(
        () => sync.model.items.map((item) => item.trackId).sort(),
        (trackIds) => trackIds.join() === [...made, "ap-crash-after"].sort().join(),
        30_000,
      );
    }
    syncs.forEach((sync) => sync.close());
    if (!page) return;
    // The web player went on through B: an edit made in the page is applied once, one made elsewhere is pushed to it.
    const webPage = page;
    await webPage.getByRole("button", { name: `Remove ${titleOf(shown[0]!)} from the playlist` }).click();
    const afterRemove = await waitUntil(
      () => observer.call(playlistContract, "get", { playlistId: webList.id }),
      (snapshot) => snapshot.items.map((item) => item.trackId).join() === shown[1],
      30_000,
    );
    await observer.call(playlistContract, "edit", {
      playlistId: webList.id,
      baseRevision: afterRemove.playlist.revision,
      operations: [
        {
          opId: "web-after-crash",
          operation: {
            type: "insert",
            afterItemId: "end",
            items: [{ itemId: "web-after-crash-item", trackId: shown[2]! }],
          },
        },
      ],
    });
    await expect
      .poll(() => rowTitles(webPage), { timeout: 30_000 })
      .toEqual([titleOf(shown[1]!), titleOf(shown[2]!)]);
    // Its socket (and requests) reached B through the balancer once A had gone.
    expect(balancer.routed.get(urlB)).toBeGreaterThan(0);
  }, 180_000);

  it("gives up on a process whose restarts fail at once, and the cluster runs on", async () => {
    // Its key gone, the tracker cannot connect: each start fails at once (`no NKey for tracker`).
    const keys = join(dataDir, "nats", "keys");
    renameSync(join(keys, "tracker.nk"), join(keys, "tracker.nk.away"));
    const before = nodeOf("tracker-1");
    process.kill(before.pid, "SIGKILL");
    const gaveUp = await waitUntil(
      () => nodeOf("tracker-1"),
      (p) => p.status === "gave-up",
      120_000,
      100,
    );
    // Three fast failures in a row: the kill, then two starts that failed (restarts 1 and 2).
    expect(gaveUp.restarts).toBe(2);
    expect(gaveUp.lastExit).toMatchObject({ code: 1, beforeReady: true });
    await waitUntil(
      () => cluster.output(),
      (output) =>
        /giving up on tracker-1: 3 fast failures in a row \(last failed to start: exited \(1\)\); the cluster runs on/.test(
          output,
        ),
      30_000,
      100,
    );
    await waitUntil(
      () => cluster.log("tracker-1"),
      (log) => log.includes("no NKey for tracker"),
      30_000,
      100,
    );
    expect(cluster.process.exitCode).toBeNull();
    const recent = await clients[1]!.call(catalogContract, "recentlyAdded", { limit: 5 });
    expect(recent.items.length).toBeGreaterThan(0);
  }, 180_000);

  it("stops on SIGINT without starting anything again", async () => {
    const restartsBefore = (cluster.output().match(/restarting in/g) ?? []).length;
    const pids = cluster
      .readState()
      .processes.filter((p) => p.status === "running")
      .map((p) => p.pid);
    await cluster.stop();
    expect(cluster.process.exitCode).toBe(0);
    expect((cluster.output().match(/restarting in/g) ?? []).length).toBe(restartsBefore);
    expect(cluster.output()).not.toMatch(/restarted \(pid \d+, restart \d+\)\s*$/);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow();
  }, 60_000);
});
