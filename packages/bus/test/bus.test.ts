// The in-process bus: contracts on both ends, manifests, rate limits, timeouts, queue groups, metrics.
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError, defineEvent, defineService } from "@soundmesh/protocol";
import {
  createInProcessBus,
  createInProcessTransport,
  createBus,
  encodeBusMessage,
  decodeBusMessage,
} from "@soundmesh/bus";

const echoContract = defineService("echo", {
  say: {
    params: z.object({ text: z.string().max(10) }),
    result: z.object({ text: z.string(), caller: z.string() }),
  },
  slow: { params: z.object({ ms: z.number() }), result: z.object({ done: z.boolean() }) },
  broken: { params: z.object({}), result: z.object({ n: z.number() }) },
  fail: { params: z.object({}), result: z.object({}) },
  bytes: {
    params: z.object({ data: z.instanceof(Uint8Array) }),
    result: z.object({ data: z.instanceof(Uint8Array) }),
  },
  whoami: { params: z.object({}), result: z.object({ instance: z.number() }) },
});
const tickEvent = defineEvent("echo.tick", z.object({ n: z.number().int() }));

async function startEcho(options: Parameters<typeof createInProcessBus>[0] = {}) {
  const bus = createInProcessBus(options);
  const echo = bus.connect({ service: "echo", calls: [], publishes: ["echo.tick"] });
  await echo.serve(echoContract, {
    say: ({ text }, ctx) => ({ text, caller: ctx.caller }),
    slow: async ({ ms }) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { done: true };
    },
    broken: () => ({ n: "not a number" }) as unknown as { n: number },
    fail: () => {
      throw new AppError("NOT_FOUND", "nothing here", { details: { id: "x" } });
    },
    bytes: ({ data }) => ({ data: Uint8Array.from(data, (b) => b ^ 0xff) }),
    whoami: () => ({ instance: 1 }),
  });
  const client = bus.connect({ service: "client", calls: ["echo"], subscribes: ["echo.tick"] });
  return { bus, echo, client };
}

describe("bus request/reply", () => {
  it("delivers a request and stamps the caller's name", async () => {
    const { client } = await startEcho();
    await expect(client.request(echoContract, "say", { text: "hi" })).resolves.toEqual({
      text: "hi",
      caller: "client",
    });
  });

  it("carries binary payloads intact", async () => {
    const { client } = await startEcho();
    const data = Uint8Array.from([0, 1, 2, 250, 255]);
    const reply = await client.request(echoContract, "bytes", { data });
    expect([...reply.data]).toEqual([255, 254, 253, 5, 0]);
    expect(decodeBusMessage(encodeBusMessage({ b: Buffer.from("abc") }))).toEqual({ b: Buffer.from("abc") });
    // Text that merely mentions the marker stays text, with bytes beside it or not.
    const text = { note: 'a "$b64" marker', nested: { $b64: "AAE=", other: 1 } };
    expect(decodeBusMessage(encodeBusMessage(text))).toEqual(text);
    expect(decodeBusMessage(encodeBusMessage({ ...text, b: Buffer.from("x") }))).toEqual({
      ...text,
      b: Buffer.from("x"),
    });
  });

  it("times out a slow handler with TIMEOUT and counts it", async () => {
    const { bus, client } = await startEcho();
    const error = await client
      .request(echoContract, "slow", { ms: 500 }, { timeoutMs: 30 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("TIMEOUT");
    expect(bus.edges().find((e) => e.method === "slow")?.timeouts).toBe(1);
  });

  it("refuses a call outside the caller's manifest with FORBIDDEN_EDGE and records it", async () => {
    const { bus } = await startEcho();
    const stranger = bus.connect({ service: "stranger", calls: [] });
    await expect(stranger.request(echoContract, "say", { text: "hi" })).rejects.toMatchObject({
      code: "FORBIDDEN_EDGE",
    });
    expect(bus.edges()).toContainEqual(
      expect.objectContaining({ caller: "stranger", callee: "echo", forbidden: 1 }),
    );
  });

  it("rejects invalid params on the caller's side before sending", async () => {
    const { bus, client } = await startEcho();
    await expect(client.request(echoContract, "say", { text: "far too long a text" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(bus.edges().find((e) => e.method === "say")?.errors).toBe(1);
  });

  it("rejects invalid params on the callee's side when a sender skips validation", async () => {
    const transport = createInProcessTransport();
    const bus = createBus({ transport });
    await bus.connect({ service: "echo", calls: [] }).serve(echoContract, {
      say: ({ text }) => ({ text, caller: "x" }),
      slow: () => ({ done: true }),
      broken: () => ({ n: 1 }),
      fail: () => ({}),
      bytes: ({ data }) => ({ data }),
      whoami: () => ({ instance: 1 }),
    });
    const raw = await transport.request(
      "svc.echo.say",
      JSON.stringify({ text: 42 }),
      { caller: "rogue", traceId: "t" },
      1000,
    );
    expect(JSON.parse(raw)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    const notJson = await transport.request("svc.echo.say", "{nope", { caller: "rogue", traceId: "t" }, 1000);
    expect(JSON.parse(notJson)).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
  });

  it("turns a reply that breaks its contract into INTERNAL", async () => {
    const { client } = await startEcho();
    await expect(client.request(echoContract, "broken", {})).rejects.toMatchObject({ code: "INTERNAL" });
  });

  it("rebuilds a handler's AppError with its code and details on the caller's side", async () => {
    const { client } = await startEcho();
    await expect(client.request(echoContract, "fail", {})).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "nothing here",
      details: { id: "x" },
    });
  });

  it("answers UNKNOWN_METHOD for a method the contract lacks and UNAVAILABLE when nobody serves", async () => {
    const { client, bus } = await startEcho();
    await expect(client.request(echoContract, "nope" as "say", { text: "" })).rejects.toMatchObject({
      code: "UNKNOWN_METHOD",
    });
    const other = defineService("other", { ping: { params: z.object({}), result: z.object({}) } });
    const caller = bus.connect({ service: "caller", calls: ["other"] });
    await expect(caller.request(other, "ping", {})).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});

describe("bus rate limits", () => {
  it("limits an edge with the default threshold", async () => {
    let now = 0;
    const { client, bus } = await startEcho({
      rateLimits: { default: { ratePerSecond: 1, burst: 3 } },
      nowMs: () => now,
    });
    for (let i = 0; i < 3; i++) await client.request(echoContract, "say", { text: "a" });
    await expect(client.request(echoContract, "say", { text: "a" })).rejects.toMatchObject({
      code: "RATE_LIMITED",
    });
    expect(bus.edges().find((e) => e.method === "say")?.rateLimited).toBe(1);
    now += 1000; // one token refilled
    await expect(client.request(echoContract, "say", { text: "a" })).resolves.toBeTruthy();
  });

  it("applies a per-edge override instead of the default", async () => {
    const now = 0;
    const { client } = await startEcho({
      rateLimits: {
        default: { ratePerSecond: 1, burst: 1 },
        edges: { "client->echo": { ratePerSecond: 1, burst: 5 } },
      },
      nowMs: () => now,
    });
    for (let i = 0; i < 5; i++) await client.request(echoContract, "say", { text: "a" });
    await expect(client.request(echoContract, "say", { text: "a" })).rejects.toMatchObject({
      code: "RATE_LIMITED",
    });
  });
});

describe("bus queue groups and events", () => {
  it("spreads requests over the members of a service's queue group", async () => {
    const bus = createInProcessBus();
    const counts = [0, 0, 0];
    for (const instance of [0, 1, 2]) {
      await bus.connect({ service: "echo", calls: [] }).serve(echoContract, {
        say: ({ text }) => ({ text, caller: "" }),
        slow: () => ({ done: true }),
        broken: () => ({ n: 1 }),
        fail: () => ({}),
        bytes: ({ data }) => ({ data }),
        whoami: () => {
          counts[instance]! += 1;
          return { instance };
        },
      });
    }
    const client = bus.connect({ service: "client", calls: ["echo"] });
    await Promise.all(Array.from({ length: 30 }, () => client.request(echoContract, "whoami", {})));
    expect(counts).toEqual([10, 10, 10]);
  });

  it("delivers an event to every subscriber and once per queue group", async () => {
    const { bus, echo, client } = await startEcho();
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      const note = (who: string) => () => {
        seen.push(who);
        if (seen.length === 3) resolve();
      };
      void client.subscribe(tickEvent, note("plain"));
      const worker = bus.connect({ service: "worker", calls: [], subscribes: ["echo.tick"] });
      void worker.subscribe(tickEvent, note("w1"), { queue: "workers" });
      void worker.subscribe(tickEvent, note("w2"), { queue: "workers" });
      void client.subscribe(tickEvent, note("plain2"));
    });
    await echo.publish(tickEvent, { n: 1 });
    await done;
    expect(seen.filter((s) => s.startsWith("w"))).toHaveLength(1);
    expect(seen).toEqual(expect.arrayContaining(["plain", "plain2"]));
  });

  it("refuses to publish an invalid payload or an undeclared topic", async () => {
    const { echo, client } = await startEcho();
    await expect(echo.publish(tickEvent, { n: 1.5 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(client.publish(tickEvent, { n: 1 })).resolves.toBeUndefined(); // client declares no publishes list
    const strict = createInProcessBus().connect({ service: "s", calls: [], publishes: [] });
    await expect(strict.publish(tickEvent, { n: 1 })).rejects.toMatchObject({ code: "FORBIDDEN_EDGE" });
  });
});

describe("bus metrics", () => {
  it("counts requests per edge with latency percentiles and exports them to Prometheus", async () => {
    const registry = new Registry();
    const { bus, client } = await startEcho({ registry });
    for (let i = 0; i < 20; i++) await client.request(echoContract, "say", { text: "m" });
    await client.request(echoContract, "fail", {}).catch(() => undefined);
    const say = bus.edges().find((e) => e.method === "say")!;
    expect(say).toMatchObject({ caller: "client", callee: "echo", requests: 20, errors: 0 });
    expect(say.latencyMs.count).toBe(20);
    expect(say.latencyMs.p99).toBeGreaterThanOrEqual(say.latencyMs.p50);
    expect(say.latencyMs.p50).toBeGreaterThan(0);
    const text = await registry.metrics();
    expect(text).toContain(
      'soundmesh_bus_requests_total{caller="client",callee="echo",method="say",outcome="ok"} 20',
    );
    expect(text).toContain('outcome="error"} 1');
  });
});
