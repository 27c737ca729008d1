// The library end to end over real sockets: scan the fixture library, search it, stream verified pieces and byte ranges.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  catalogContract,
  storageContract,
  streamManifest,
  type StreamManifest,
  searchContract,
} from "@soundmesh/protocol";
import { WsClient, generateFixtureLibrary, login, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";

let server: TestServer;
let token: string;
let ws: WsClient;
let trackId: string;
const auth = () => ({ authorization: `Bearer ${token}` });
const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers: { ...auth(), ...headers } });
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  const fixture = await generateFixtureLibrary();
  server = await startServer({ libraryFolders: [fixture.root] });
  token = await setupAdmin(server.url);
  ws = await WsClient.connect(server.url, token);
  await waitUntil(
    () => ws.call(catalogContract, "scanStatus"),
    (status) => status.added === fixture.audioFiles,
    30_000,
  );
  await waitUntil(
    () => ws.call(searchContract, "query", { q: "starálfur" }),
    (result) => result.hits.length === 1,
  );
  trackId = (await ws.call(searchContract, "query", { q: "starálfur", kinds: ["track"] })).hits[0]!.id;
}, 120_000);
afterAll(async () => {
  await ws?.close();
  await server?.close();
});

describe("library over the access point", () => {
  it("finds tracks as you type and with typos", async () => {
    const prefix = await ws.call(searchContract, "query", {
      q: "sigur r",
    });
    expect(prefix.hits.map((h) => h.title)).toContain("Sigur Rós");
    const typo = await ws.call(searchContract, "query", { q: "ageatis" });
    expect(typo.hits.map((h) => h.title)).toContain("Ágætis byrjun");
  });

  it("serves a manifest whose every piece matches its SHA-256", async () => {
    const response = await get(`/api/stream/${trackId}/opus96/manifest`);
    expect(response.status).toBe(200);
    const manifest: StreamManifest = streamManifest.parse(await response.json());
    expect(manifest).toMatchObject({ trackId, profile: "opus96", codec: "opus" });
    for (let index = 0; index < manifest.pieceCount; index++) {
      const piece = await get(`/api/stream/${trackId}/opus96/pieces/${index}`);
      expect(sha(new Uint8Array(await piece.arrayBuffer())), `piece ${index}`).toBe(
        manifest.pieceHashes[index],
      );
    }
    const etag = response.headers.get("etag")!;
    expect((await get(`/api/stream/${trackId}/opus96/manifest`, { "if-none-match": etag })).status).toBe(304);
  });

  it("serves byte ranges of the whole file: first, middle, last, suffix; 416 for the impossible", async () => {
    const manifest: StreamManifest = streamManifest.parse(
      await (await get(`/api/stream/${trackId}/original/manifest`)).json(),
    );
    const whole = new Uint8Array(await (await get(`/api/stream/${trackId}/original/file`)).arrayBuffer());
    expect(whole.byteLength).toBe(manifest.sizeBytes);
    const size = manifest.sizeBytes;
    for (const [header, start, end] of [
      ["bytes=0-99", 0, 99],
      [
        `bytes=${Math.floor(size / 2)}-${Math.floor(size / 2) + 1000}`,
        Math.floor(size / 2),
        Math.floor(size / 2) + 1000,
      ],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      ["bytes=-500", size - 500, size - 1],
    ] as const) {
      const response = await get(`/api/stream/${trackId}/original/file`, { range: header });
      expect(response.status, header).toBe(206);
      expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${size}`);
      expect(
        Buffer.from(await response.arrayBuffer()).equals(Buffer.from(whole.subarray(start, end + 1))),
        header,
      ).toBe(true);
    }
    const impossible = await get(`/api/stream/${trackId}/original/file`, { range: `bytes=${size}-` });
    expect(impossible.status).toBe(416);
    expect(impossible.headers.get("content-range")).toBe(`bytes */${size}`);
    expect(await impossible.json()).toMatchObject({ code: "RANGE_NOT_SATISFIABLE" });
  });

  it("makes one transcode for two concurrent requests of the same rendition", async () => {
    const probe = server.bus.connect({ service: "probe", calls: ["storage"] });
    // Ahead-of-time transcodes queued after the scan must finish first, or they would count too.
    const settled = await waitUntil(
      () => probe.request(storageContract, "stats", {}),
      (stats) => stats.queued === 0 && stats.transcodesRunning === 0,
      30_000,
    );
    const before = settled.transcodesStarted;
    const [a, b] = await Promise.all([
      get(`/api/stream/${trackId}/opus160/manifest`),
      get(`/api/stream/${trackId}/opus160/pieces/0`),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await probe.request(storageContract, "stats", {})).transcodesStarted).toBe(before + 1);
  });

  it("refuses path-like ids, unknown tracks and anonymous callers", async () => {
    for (const path of [
      "/api/stream/..%2F..%2Fetc%2Fpasswd/opus96/manifest",
      "/api/stream/a.b/opus96/manifest",
      `/api/stream/${trackId}/..%2Fx/manifest`,
      `/api/stream/${trackId}/opus96/pieces/-1`,
    ]) {
      const response = await get(path);
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({ code: "VALIDATION_FAILED" });
    }
    expect((await get("/api/stream/doesnotexist/opus96/manifest")).status).toBe(404);
    expect((await fetch(`${server.url}/api/stream/${trackId}/opus96/manifest`)).status).toBe(401);
  });

  it("stops serving audio to a session as soon as it logs out", async () => {
    const other = await login(server.url, "admin", "correct horse battery");
    const path = `${server.url}/api/stream/${trackId}/original/pieces/0`;
    expect((await fetch(path, { headers: { authorization: `Bearer ${other}` } })).status).toBe(200);
    await fetch(`${server.url}/api/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${other}` },
    });
    expect((await fetch(path, { headers: { authorization: `Bearer ${other}` } })).status).toBe(401);
  });

  it("serves resized cover art", async () => {
    const probe = server.bus.connect({ service: "probe2", calls: ["catalog"] });
    const track = await probe.request(catalogContract, "track", { trackId });
    const cover = await get(`/api/cover/${track.albumId}?size=64`);
    expect(cover.status).toBe(200);
    expect(cover.headers.get("content-type")).toBe("image/jpeg");
    expect((await get(`/api/cover/${track.albumId}?size=65`)).status).toBe(400);
  });

  it("pushes scan progress to admins who subscribe", async () => {
    ws.sendRaw(JSON.stringify({ t: "sub", topic: "catalog.scanProgress" }));
    await ws.waitFor((frame) => frame.t === "res" && frame.id === "sub:catalog.scanProgress");
    await ws.call(catalogContract, "scan", { full: true });
    const push = await ws.waitFor(
      (frame) => frame.t === "push" && frame.topic === "catalog.scanProgress",
      10_000,
    );
    expect(push).toMatchObject({ data: { running: expect.any(Boolean) } });
  });
});
