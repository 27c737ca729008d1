// The shared contracts: error catalogue, AppError on the wire, and the WebSocket frame shapes.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AppError,
  clientFrame,
  errorCatalog,
  httpStatusOf,
  issueDetails,
  serverFrame,
  toAppError,
} from "@soundmesh/protocol";

describe("error catalogue", () => {
  it("gives every code an HTTP error status and a message", () => {
    for (const [code, entry] of Object.entries(errorCatalog)) {
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.status, code).toBeLessThan(600);
      expect(entry.message.length, code).toBeGreaterThan(0);
    }
    expect(httpStatusOf("UNAUTHENTICATED")).toBe(401);
    expect(httpStatusOf("RATE_LIMITED")).toBe(429);
  });

  it("carries an AppError over the wire with its code, message and details", () => {
    const error = new AppError("NOT_FOUND", "no such track", { details: { id: "t1" } });
    const rebuilt = AppError.fromWire(JSON.parse(JSON.stringify(error.toWire())) as never);
    expect(rebuilt).toMatchObject({
      code: "NOT_FOUND",
      message: "no such track",
      details: { id: "t1" },
      status: 404,
    });
  });

  it("turns an unknown code from the wire and unknown throwables into INTERNAL without internals", () => {
    expect(AppError.fromWire({ code: "MADE_UP", message: "x" }).code).toBe("INTERNAL");
    const wrapped = toAppError(new Error("database password is hunter2"));
    expect(wrapped.code).toBe("INTERNAL");
    expect(wrapped.message).not.toContain("hunter2");
  });
});

describe("issue details", () => {
  it("names each failed check by its dotted path, the root as empty, and keeps at most `max`", () => {
    const parsed = z
      .object({ a: z.object({ b: z.array(z.number()) }), c: z.string() })
      .safeParse({ a: { b: [1, "x"] }, c: 3 });
    expect(parsed.success).toBe(false);
    const details = issueDetails(parsed.error!);
    expect(details.map((detail) => detail.path)).toEqual(["a.b.1", "c"]);
    expect(details[0]!.message).toMatch(/number/);
    expect(issueDetails(parsed.error!, 1)).toHaveLength(1);
    expect(issueDetails(z.string().safeParse(1).error!)).toEqual([{ path: "", message: expect.any(String) }]);
  });
});

describe("frames", () => {
  it("accepts the client frames of the protocol", () => {
    for (const frame of [
      { t: "req", id: 1, method: "user.me", params: {} },
      { t: "req", id: "a", method: "search.query", params: { q: "x" } },
      { t: "sub", topic: "catalog.scanProgress" },
      { t: "unsub", topic: "catalog.scanProgress" },
      { t: "signal", to: "peer-1", data: { sdp: "..." } },
      { t: "ping" },
    ]) {
      expect(clientFrame.safeParse(frame).success, JSON.stringify(frame)).toBe(true);
    }
  });

  it("rejects frames of the wrong shape", () => {
    for (const frame of [
      null,
      [],
      { t: "req", method: "user.me" },
      { t: "req", id: -1, method: "x", params: {} },
      { t: "req", id: "a".repeat(65), method: "x", params: {} },
      { t: "req", id: 1, method: "", params: {} },
      { t: "push", topic: "x", data: 1 },
      { t: "sub" },
    ]) {
      expect(clientFrame.safeParse(frame).success, JSON.stringify(frame)).toBe(false);
    }
  });

  it("types server frames, err frames carrying catalogue codes only", () => {
    expect(serverFrame.safeParse({ t: "err", id: 1, code: "NOT_FOUND", message: "x" }).success).toBe(true);
    expect(serverFrame.safeParse({ t: "err", id: 1, code: "WHATEVER", message: "x" }).success).toBe(false);
  });
});
