// The engine against a real server: a headless client fetches a rendition piece by piece, verified, then replays it from its cache.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ByteAccounting,
  LruIndex,
  MemoryPieceStore,
  PieceFetcher,
  ServerSource,
  schedulePieces,
} from "@soundmesh/engine";
import { WsClient, generateFixtureLibrary, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { catalogContract, searchContract } from "@soundmesh/protocol";

let server: TestServer;
let token: string;
let trackId: string;

beforeAll(async () => {
  const fixture = await generateFixtureLibrary();
  server = await startServer({ libraryFolders: [fixture.root] });
  token = await setupAdmin(server.url);
  const ws = await WsClient.connect(server.url, token);
  await waitUntil(
    () => ws.call(catalogContract, "scanStatus"),
    (s) => s.added === fixture.audioFiles,
    30_000,
  );
  await waitUntil(
    () => ws.call(searchContract, "query", { q: "svefn", kinds: ["track"] }),
    (r) => r.hits.length === 1,
  );
  trackId = (await ws.call(searchContract, "query", { q: "svefn", kinds: ["track"] })).hits[0]!.id;
  await ws.close();
}, 120_000);
afterAll(async () => server?.close());

describe("engine with the server as its source", () => {
  it("fetches every piece in urgency order, verified and counted as server bytes, then replays from cache with no request", async () => {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests += 1;
      return fetch(input, init);
    };
    const source = new ServerSource({
      baseUrl: server.url,
      headers: { authorization: `Bearer ${token}` },
      fetch: counting,
    });
    const manifest = await source.manifest(trackId, "opus96");
    const track = { trackId, profile: "opus96", manifest };
    const store = new MemoryPieceStore();
    const accounting = new ByteAccounting();
    const fetcher = new PieceFetcher({ sources: [source], store, cacheIndex: new LruIndex(1e9), accounting });

    const have = new Set<number>();
    for (;;) {
      const next = schedulePieces({
        manifest,
        playheadMs: 0,
        have,
        inFlight: new Set(),
        maxInFlight: 4,
        lookAheadMs: Infinity,
      });
      if (next.length === 0) break;
      await Promise.all(
        next.map(async ({ index, urgencyMs }) => {
          await fetcher.fetch(track, index, urgencyMs, new AbortController().signal);
          have.add(index);
        }),
      );
    }
    expect(have.size).toBe(manifest.pieceCount);
    expect(accounting.snapshot().bySource).toEqual({ server: manifest.sizeBytes, cache: 0, peer: 0 });
    expect(requests).toBe(1 + manifest.pieceCount);

    for (let index = 0; index < manifest.pieceCount; index++)
      await fetcher.fetch(track, index, 0, new AbortController().signal);
    expect(requests).toBe(1 + manifest.pieceCount);
    expect(accounting.snapshot().bySource.cache).toBe(manifest.sizeBytes);
  });

  it("reports an expired or missing session as a source error with its status", async () => {
    const source = new ServerSource({
      baseUrl: server.url,
      headers: { authorization: `Bearer ${"x".repeat(43)}` },
    });
    await expect(source.manifest(trackId, "opus96")).rejects.toMatchObject({ status: 401 });
  });
});
