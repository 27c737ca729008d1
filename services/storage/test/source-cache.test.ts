// The storage service's memory of track sources: a known answer is used at once, refreshed in the background once
// old, dropped when a refresh fails, and forgotten when a scan changed the catalog.
import { describe, expect, it } from "vitest";
import { AppError } from "@soundmesh/protocol";
import type { SourceInfo } from "@soundmesh/service-storage";
import { cachedSources } from "../src/storage-service";

function catalog() {
  let now = 0;
  let mtimeMs = 1;
  let gone = false;
  const asked: string[] = [];
  const pending: Array<() => void> = [];
  const resolve = (trackId: string) => {
    asked.push(trackId);
    const answer = { path: `/music/${trackId}.flac`, sizeBytes: 100, mtimeMs, durationMs: 1_000 };
    const failed = gone;
    // Each answer waits to be released, as a bus round trip would.
    return new Promise<SourceInfo>((resolve, reject) =>
      pending.push(() => (failed ? reject(new AppError("NOT_FOUND", "No such track")) : resolve(answer))),
    );
  };
  const release = async () => {
    for (const answer of pending.splice(0)) answer();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    asked,
    release,
    advance: (ms: number) => (now += ms),
    touch: () => (mtimeMs += 1),
    remove: () => (gone = true),
    sources: cachedSources(resolve, 2_000, () => now),
  };
}

describe("source cache", () => {
  it("answers at once from what it knows, refreshing an old answer in the background", async () => {
    const c = catalog();
    const first = c.sources.resolve("t1");
    expect(c.sources.resolve("t1")).toBe(first);
    await c.release();
    expect((await first).mtimeMs).toBe(1);
    expect(c.asked).toEqual(["t1"]);
    c.advance(2_500);
    c.touch();
    // Old: the known answer now, one question behind it however many requests come meanwhile.
    const stale = c.sources.resolve("t1");
    expect(stale).toBe(first);
    expect(c.sources.resolve("t1")).toBe(first);
    expect(c.asked).toEqual(["t1", "t1"]);
    await c.release();
    expect((await c.sources.resolve("t1")).mtimeMs).toBe(2);
    expect(c.asked).toHaveLength(2);
  });

  it("forgets every answer when told the catalog changed", async () => {
    const c = catalog();
    const first = c.sources.resolve("t1");
    await c.release();
    await first;
    c.touch();
    c.sources.forget();
    const next = c.sources.resolve("t1");
    expect(c.asked).toEqual(["t1", "t1"]);
    await c.release();
    expect((await next).mtimeMs).toBe(2);
  });

  it("drops an answer whose refresh failed: the next request gets the catalog's refusal", async () => {
    const c = catalog();
    const first = c.sources.resolve("t1");
    await c.release();
    await first;
    c.advance(2_500);
    c.remove();
    expect(c.sources.resolve("t1")).toBe(first);
    await c.release();
    const after = c.sources.resolve("t1");
    await c.release();
    await expect(after).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(c.asked).toHaveLength(3);
  });
});
