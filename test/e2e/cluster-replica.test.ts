// Replicas in cluster mode: `soundmesh cluster` with 3 storage nodes on PostgreSQL and one nats-server. A rendition read
// through the access point is made at its owner, which copies it to the key's next node on the ring in the background;
// the owner is then killed with -9 and kept dead (its NATS key moved away, so the supervisor's restarts fail), and
// the whole rendition is read again: answered by the replica from its copy, without an ffmpeg run there. Once the
// ring has settled without the dead node, the replica (now the key's owner) copies it to the key's new replica.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HashRing } from "@soundmesh/bus";
import { catalogContract, streamManifest, type StreamManifest } from "@soundmesh/protocol";
import { renditionKey } from "@soundmesh/service-access-point";
import {
  WsClient,
  login,
  pgTestDatabase,
  shouldRunNatsTests,
  waitUntil,
  writeTone,
  type PgTestDatabase,
} from "@soundmesh/test-kit";
import { startCluster, type RunningCluster } from "@soundmesh/test-kit/server";

const admin = { name: "admin", password: "correct horse battery" };
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const STORAGE = ["storage-1", "storage-2", "storage-3"];

describe.runIf(shouldRunNatsTests())(
  "a storage node killed for good leaves its renditions at the replica",
  () => {
    let cluster: RunningCluster;
    let database: PgTestDatabase | null;
    let dataDir: string;
    let url: string;
    let token: string;

    const get = async (path: string) => {
      const response = await fetch(`${url}/api/stream/${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
      return response;
    };
    const readManifest = async (trackId: string): Promise<StreamManifest> =>
      streamManifest.parse(await (await get(`${trackId}/opus96/manifest`)).json());
    /** Every piece of the rendition through the access point, each checked against the manifest's hash. */
    const readAllPieces = async (trackId: string, manifest: StreamManifest) => {
      for (let index = 0; index < manifest.pieceCount; index += 1) {
        const bytes = new Uint8Array(await (await get(`${trackId}/opus96/pieces/${index}`)).arrayBuffer());
        expect(sha(bytes), `piece ${index}`).toBe(manifest.pieceHashes[index]);
      }
    };
    /** A storage node's log lines about this track. */
    const linesOf = (node: string, trackId: string, text: string) =>
      cluster
        .log(node)
        .split("\n")
        .filter((line) => line.includes(text) && line.includes(trackId));

    beforeAll(async () => {
      database = await pgTestDatabase();
      if (!database) return;
      dataDir = mkdtempSync(join(tmpdir(), "soundmesh-cluster-replica-"));
      const library = join(dataDir, "library");
      mkdirSync(library);
      await writeTone(join(library, "replicated.flac"), {
        frequency: 330,
        seconds: 30,
        codec: ["-c:a", "flac"],
        tags: { title: "Replicated Tone", artist: "Ring Test", album: "Replicas" },
      });
      // No transcode ahead after the scan: the only ffmpeg run is the one the first read asks of the owner.
      const config = join(dataDir, "soundmesh.json");
      writeFileSync(config, JSON.stringify({ transcode: { ahead: [] } }));
      cluster = await startCluster(
        dataDir,
        {
          database: database.url,
          nats: { nodes: 1 },
          services: { storage: 3 },
          library: [library],
          logLevel: "info",
          // A killed node whose restarts fail at once is given up on quickly.
          restart: { initialDelayMs: 200, maxFastFailures: 3 },
        },
        {
          SOUNDMESH_ADMIN_NAME: admin.name,
          SOUNDMESH_ADMIN_PASSWORD: admin.password,
          SOUNDMESH_CONFIG: config,
        },
      );
      [url] = cluster.state.accessPoints as [string];
      token = await login(url, admin.name, admin.password);
    }, 300_000);
    afterAll(async () => {
      await cluster?.stop();
      await database?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }, 60_000);

    it("reads the rendition from the replica's copy, with no transcode there, after kill -9 of its owner", async () => {
      const client = await WsClient.connect(url, token, 10_000);
      const recent = await waitUntil(
        () => client.call(catalogContract, "recentlyAdded", { limit: 10 }),
        (answer) => answer.items.length === 1,
        60_000,
        200,
      );
      const { tracks } = await client.call(catalogContract, "album", { albumId: recent.items[0]!.id });
      await client.close();
      const trackId = tracks[0]!.id;
      const [owner, replica] = new HashRing(STORAGE).owners(renditionKey(trackId, "opus96"), 2) as [
        string,
        string,
      ];
      expect(replica).not.toBe(owner);

      // Made at its owner (the first read), then copied to the replica in the background.
      const manifest = await readManifest(trackId);
      expect(manifest.pieceCount).toBeGreaterThan(1);
      await readAllPieces(trackId, manifest);
      expect(linesOf(owner, trackId, '"transcode started"')).toHaveLength(1);
      const copied = await waitUntil(
        () => linesOf(replica, trackId, "rendition copy taken as a replica"),
        (lines) => lines.length === 1,
        60_000,
        100,
      );
      expect(copied[0]).toContain(`"sizeBytes":${manifest.sizeBytes}`);
      expect(linesOf(owner, trackId, "rendition copied to a replica")[0]).toContain(`"node":"${replica}"`);

      // The owner dies for good: with its key moved away the supervisor's restarts cannot connect to NATS.
      const keys = join(dataDir, "nats", "keys");
      renameSync(join(keys, "storage.nk"), join(keys, "storage.nk.away"));
      try {
        const ownerProcess = cluster.readState().processes.find((p) => p.node === owner)!;
        process.kill(ownerProcess.pid, "SIGKILL");
        const again = await readManifest(trackId);
        expect(again.pieceHashes).toEqual(manifest.pieceHashes);
        await readAllPieces(trackId, again);
        // The access point moved past the dead owner and the replica answered.
        await waitUntil(
          () => cluster.log("access-point-1"),
          (log) => log.includes(`"source":"${replica}","misses":[{"node":"${owner}"`),
          30_000,
          100,
        );
        await waitUntil(
          () => cluster.readState().processes.find((p) => p.node === owner)!,
          (p) => p.status === "gave-up",
          60_000,
          100,
        );
      } finally {
        renameSync(join(keys, "storage.nk.away"), join(keys, "storage.nk"));
      }
      // From its copy: no ffmpeg ran on the replica for this track.
      expect(linesOf(replica, trackId, '"transcode started"')).toEqual([]);
      // The key's new replica is the third node: once the ring has settled without the dead owner, the replica (its
      // owner now) offers what it holds, and the third node takes a copy, again without ffmpeg.
      const third = STORAGE.find((node) => node !== owner && node !== replica)!;
      await waitUntil(
        () => linesOf(third, trackId, "rendition copy taken as a replica"),
        (lines) => lines.length === 1,
        60_000,
        100,
      );
      expect(linesOf(replica, trackId, "rendition copied to a replica").at(-1)).toContain(
        `"node":"${third}"`,
      );
      expect(linesOf(third, trackId, '"transcode started"')).toEqual([]);
    }, 180_000);
  },
);
