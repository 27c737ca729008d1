// Byte-range parsing for whole-file streaming: first, middle, last, suffix and unsatisfiable ranges.
import { describe, expect, it } from "vitest";
import { parseRange } from "../src/routes/stream";

describe("parseRange", () => {
  const size = 1000;
  it("serves the whole file without a Range header", () => {
    expect(parseRange(undefined, size)).toBeNull();
  });
  it("reads first, middle, open-ended and suffix ranges", () => {
    expect(parseRange("bytes=0-99", size)).toEqual({ start: 0, endInclusive: 99 });
    expect(parseRange("bytes=400-599", size)).toEqual({ start: 400, endInclusive: 599 });
    expect(parseRange("bytes=900-", size)).toEqual({ start: 900, endInclusive: 999 });
    expect(parseRange("bytes=-100", size)).toEqual({ start: 900, endInclusive: 999 });
    expect(parseRange("bytes=-5000", size)).toEqual({ start: 0, endInclusive: 999 });
    expect(parseRange("bytes=990-5000", size)).toEqual({ start: 990, endInclusive: 999 });
  });
  it("refuses ranges that cannot be satisfied or parsed with RANGE_NOT_SATISFIABLE", () => {
    for (const header of [
      "bytes=1000-",
      "bytes=500-400",
      "bytes=-0",
      "bytes=-",
      "items=0-1",
      "bytes=0-1,5-6",
      "bytes=a-b",
    ]) {
      expect(() => parseRange(header, size), header).toThrow(
        expect.objectContaining({ code: "RANGE_NOT_SATISFIABLE" }),
      );
    }
    expect(() => parseRange("bytes=0-", 0)).toThrow(
      expect.objectContaining({ code: "RANGE_NOT_SATISFIABLE" }),
    );
  });
});
