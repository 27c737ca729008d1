// Expensive work bounded per user and in total, through a real server: one user's flood of transcodes is capped and
// queued while another user streams and browses; a grid of covers answers 200; huge images are never decoded.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient, login, setupAdmin, waitUntil, writeTone } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { catalogContract, playlistContract, searchContract, userContract } from "@soundmesh/protocol";

const albums = 10;
const tracksPerAlbum = 3;
const library = mkdtempSync(join(tmpdir(), "soundmesh-bounded-"));
let server: TestServer;
let alice: { token: string; ws: WsClient };
let bob: { token: string; ws: WsClient };
/** Track ids of the flood albums, and the album ids (for covers). */
const trackIds: string[] = [];
let albumIds: string[] = [];
let hugeAlbumId: string;
let huge: Buffer;

const get = (path: string, token: string) =>
  fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  // Untagged files named by folder: "Flood Artist/Album N/0K Track.flac", each album with its own cover. Each
  // transcode takes long enough (20 s of audio) that the whole flood arrives while the first ones still run.
  const tone = await writeTone(join(library, ".tone.flac"), {
    frequency: 440,
    seconds: 20,
    codec: ["-c:a", "flac"],
  });
  for (let a = 0; a < albums; a++) {
    const dir = join(library, "Flood Artist", `Album ${a}`);
    mkdirSync(dir, { recursive: true });
    for (let t = 1; t <= tracksPerAlbum; t++) copyFileSync(tone, join(dir, `0${t} Track ${t}.flac`));
    await sharp({
      create: { width: 400, height: 400, channels: 3, background: { r: a * 25, g: 100, b: 200 - a * 20 } },
    })
      .jpeg()
      .toFile(join(dir, "cover.jpg"));
  }
  huge = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: "#884422" } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  const hugeDir = join(library, "Huge Artist", "Huge Album");
  mkdirSync(hugeDir, { recursive: true });
  copyFileSync(tone, join(hugeDir, "01 Big.flac"));
  writeFileSync(join(hugeDir, "cover.png"), huge);

  server = await startServer({
    libraryFolders: [library],
    overrides: { transcode: { maxConcurrent: 1, maxPerUser: 4, maxQueued: 64, ahead: [] } },
  });
  const adminToken = await setupAdmin(server.url, "alice", "alice password");
  alice = { token: adminToken, ws: await WsClient.connect(server.url, adminToken) };
  await alice.ws.call(userContract, "createUser", { name: "bob", password: "bob password" });
  const bobToken = await login(server.url, "bob", "bob password");
  bob = { token: bobToken, ws: await WsClient.connect(server.url, bobToken) };
  await waitUntil(
    () => alice.ws.call(catalogContract, "scanStatus"),
    (status) => !status.running && status.added === albums * tracksPerAlbum + 1,
    60_000,
  );
  const recent = await bob.ws.call(catalogContract, "recentlyAdded", {
    limit: 50,
  });
  albumIds = recent.items.filter((album) => album.title.startsWith("Album ")).map((album) => album.id);
  hugeAlbumId = recent.items.find((album) => album.title === "Huge Album")!.id;
  for (const albumId of albumIds) {
    const { tracks } = await bob.ws.call(catalogContract, "album", { albumId });
    trackIds.push(...tracks.map((track) => track.id));
  }
}, 120_000);

afterAll(async () => {
  await alice?.ws.close();
  await bob?.ws.close();
  await server?.close();
  rmSync(library, { recursive: true, force: true });
});

describe("expensive work, bounded", () => {
  it("caps one user's flood of transcodes while another user streams and everyone browses", async () => {
    expect(trackIds).toHaveLength(30);
    const [bobsTrack, ...flood] = trackIds;
    const floodAnswers = Promise.all(
      flood.map(async (trackId) => {
        const response = await get(`/api/stream/${trackId}/opus96/manifest`, alice.token);
        return {
          status: response.status,
          body: (await response.json()) as { code?: string; title?: string },
        };
      }),
    );
    // Meanwhile bob plays one track and both browse over the WebSocket.
    const [bobs, browsed, album, searched] = await Promise.all([
      get(`/api/stream/${bobsTrack}/opus96/manifest`, bob.token),
      bob.ws.call(catalogContract, "recentlyAdded", { limit: 20 }),
      alice.ws.call(catalogContract, "album", { albumId: albumIds[0]! }),
      bob.ws.call(searchContract, "query", { q: "flood" }),
    ]);
    expect(bobs.status).toBe(200);
    expect(await bobs.json()).toMatchObject({ trackId: bobsTrack, codec: "opus" });
    expect(browsed.items.length).toBe(11);
    expect(album.tracks).toHaveLength(3);
    expect(searched.hits.map((hit) => hit.title)).toContain("Flood Artist");

    const answers = await floodAnswers;
    const served = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status !== 200);
    // The first four were taken; requests beyond the cap were told why, with the typed code.
    expect(served.length).toBeGreaterThanOrEqual(4);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const answer of refused) {
      expect(answer.status).toBe(429);
      expect(answer.body).toMatchObject({
        code: "RATE_LIMITED",
        title: expect.stringContaining("at most 4"),
      });
    }

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`soundmesh_transcodes_refused_total{reason="per_user"} ${refused.length}`);
    expect(metrics).toMatch(/^soundmesh_transcodes_running \d+$/m);
    expect(metrics).toMatch(/^soundmesh_transcodes_queued\{priority="listener"\} \d+$/m);
    expect(metrics).toMatch(/^soundmesh_transcodes_queued\{priority="background"\} \d+$/m);
  });

  it("answers 180 concurrent first requests for a grid of album covers with 200 and one image per cover", async () => {
    const asks = albumIds.flatMap((albumId) =>
      (["64", "300", "600"] as const).flatMap((size) => Array.from({ length: 6 }, () => ({ albumId, size }))),
    );
    expect(asks).toHaveLength(180);
    const answers = await Promise.all(
      asks.map(async ({ albumId, size }) => {
        const response = await get(`/api/cover/${albumId}?size=${size}`, bob.token);
        return {
          status: response.status,
          bytes: Buffer.from(await response.arrayBuffer()).toString("base64"),
        };
      }),
    );
    expect(answers.map((answer) => answer.status)).toEqual(asks.map(() => 200));
    const imagesBy = new Map<string, Set<string>>();
    for (const [i, { albumId, size }] of asks.entries())
      imagesBy.set(
        `${albumId}:${size}`,
        (imagesBy.get(`${albumId}:${size}`) ?? new Set()).add(answers[i]!.bytes),
      );
    expect([...imagesBy.values()].map((images) => images.size)).toEqual(Array.from({ length: 30 }, () => 1));
  });

  it("never decodes a 7000×7000 image: a folder cover is passed over by the scan, an upload refused", async () => {
    const errors = await alice.ws.call(catalogContract, "scanErrors", {});
    expect(errors.items).toContainEqual({
      path: join(library, "Huge Artist", "Huge Album", "cover.png"),
      reason: expect.stringContaining("7000×7000 pixels (49 megapixels) is over the 40-megapixel limit"),
      seenAt: expect.any(Number),
    });
    const cover = await get(`/api/cover/${hugeAlbumId}?size=300`, bob.token);
    expect(cover.status).toBe(404);
    expect(await cover.json()).toMatchObject({ code: "NOT_FOUND" });

    const { playlist } = await bob.ws.call(playlistContract, "create", {
      name: "Huge",
    });
    const upload = await fetch(`${server.url}/api/playlists/${playlist.id}/cover`, {
      method: "PUT",
      headers: { authorization: `Bearer ${bob.token}`, "content-type": "image/png" },
      body: new Uint8Array(huge),
    });
    expect(upload.status).toBe(400);
    expect(await upload.json()).toMatchObject({
      code: "BAD_REQUEST",
      title: expect.stringContaining("7000×7000 pixels"),
    });
  });
});
