// The in-memory cache of served pieces: bounded in bytes, least recently served dropped first, a rendition's pieces
// dropped with it.
import { describe, expect, it } from "vitest";
import { PieceCache } from "../src/rendition-files";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("the piece cache", () => {
  it("keeps at most its bound, dropping the least recently served piece first", () => {
    const cache = new PieceCache(3_000);
    cache.set("a", 0, bytes(1_000, 1));
    cache.set("a", 1, bytes(1_000, 2));
    cache.set("b", 0, bytes(1_000, 3));
    // Serving a:0 makes a:1 the least recently served.
    expect(cache.get("a", 0)?.[0]).toBe(1);
    cache.set("b", 1, bytes(1_000, 4));
    expect(cache.get("a", 1)).toBeUndefined();
    expect(cache.get("a", 0)?.[0]).toBe(1);
    expect(cache.sizeBytes).toBe(3_000);
    // A piece larger than the whole bound is not kept, and pushes nothing out.
    cache.set("c", 0, bytes(4_000, 5));
    expect(cache.get("c", 0)).toBeUndefined();
    expect(cache.sizeBytes).toBe(3_000);
  });

  it("drops every piece of a rendition that goes, and nothing of another whose key starts alike", () => {
    const cache = new PieceCache(10_000);
    cache.set("ab", 0, bytes(100, 1));
    cache.set("ab", 7, bytes(100, 2));
    cache.set("abc", 0, bytes(100, 3));
    cache.forget("ab");
    expect(cache.get("ab", 0)).toBeUndefined();
    expect(cache.get("ab", 7)).toBeUndefined();
    expect(cache.get("abc", 0)?.[0]).toBe(3);
    expect(cache.sizeBytes).toBe(100);
  });
});
