// The bus over both transports (in process and a real nats-server started here): contracts on both ends, manifests,
// rate limits, timeouts, queue groups, metrics, bytes as bytes. The frame codec tests at the end need no transport.
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError, defineEvent, defineService } from "@soundmesh/protocol";
import {
  createInProcessTransport,
  createBus,
  type Bus,
  type BusOptions,
  type Transport,
  encodeBusMessage,
  decodeBusMessage,
  busFrameToWireBytes,
  busFrameFromWireBytes,
  BusFrameError,
} from "@soundmesh/bus";
import { createNatsTransport } from "@soundmesh/bus/nats";
import { shouldRunNatsTests, startNatsServer, type NatsServer } from "@soundmesh/test-kit";

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

let nats: NatsServer | undefined;
const runNats = shouldRunNatsTests();
beforeAll(async () => {
  if (runNats) nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

interface TransportKind {
  name: string;
  newTransport(): Promise<Transport>;
}
const kinds: TransportKind[] = [
  { name: "in-process", newTransport: () => Promise.resolve(createInProcessTransport()) },
  ...(runNats ? [{ name: "nats", newTransport: () => createNatsTransport({ servers: nats!.url }) }] : []),
];

describe.each(kinds)("bus over $name", (kind) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((bus) => bus.close()));
  });
  const newTransport = async () => {
    const transport = await kind.newTransport();
    open.push(transport);
    return transport;
  };
  const newBus = async (options: Omit<BusOptions, "transport"> = {}): Promise<Bus> =>
    createBus({ ...options, transport: await newTransport() });

  async function startEcho(options: Omit<BusOptions, "transport"> = {}) {
    const bus = await newBus(options);
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
      await expect(
        client.request(echoContract, "say", { text: "far too long a text" }),
      ).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
      expect(bus.edges().find((e) => e.method === "say")?.errors).toBe(1);
    });

    it("rejects invalid params on the callee's side when a sender skips validation", async () => {
      const transport = await newTransport();
      const bus = createBus({ transport });
      await bus.connect({ service: "echo", calls: [] }).serve(echoContract, {
        say: ({ text }) => ({ text, caller: "x" }),
        slow: () => ({ done: true }),
        broken: () => ({ n: 1 }),
        fail: () => ({}),
        bytes: ({ data }) => ({ data }),
        whoami: () => ({ instance: 1 }),
      });
      const rogue = { caller: "rogue", traceId: "t" };
      const raw = await transport.request("svc.echo.say", encodeBusMessage({ text: 42 }), rogue, 1000);
      expect(decodeBusMessage(raw)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
      const notJson = await transport.request(
        "svc.echo.say",
        { envelope: "{nope", attachments: [] },
        rogue,
        1000,
      );
      expect(decodeBusMessage(notJson)).toMatchObject({ ok: false, error: { code: "BAD_FRAME" } });
      const dangling = { envelope: '{"data":{"$bin":0}}', attachments: [] };
      expect(
        decodeBusMessage(await transport.request("svc.echo.bytes", dangling, rogue, 1000)),
      ).toMatchObject({
        ok: false,
        error: { code: "VALIDATION_FAILED" },
      });
      const missing = { envelope: '{"data":{"$bin":3}}', attachments: [Uint8Array.of(1)] };
      expect(decodeBusMessage(await transport.request("svc.echo.bytes", missing, rogue, 1000))).toMatchObject(
        {
          ok: false,
          error: { code: "BAD_FRAME" },
        },
      );
    });

    it("turns a reply that breaks its contract into INTERNAL", async () => {
      const { client } = await startEcho();
      await expect(client.request(echoContract, "broken", {})).rejects.toMatchObject({ code: "INTERNAL" });
    });

    it("checks a request and its reply once in one process, on both ends across processes", async () => {
      const checks = { params: 0, result: 0 };
      const counted = defineService("counted", {
        add: {
          params: z.object({ n: z.number() }).refine(() => (checks.params += 1) > 0),
          result: z.object({ sum: z.number() }).refine(() => (checks.result += 1) > 0),
        },
      });
      const bus = await newBus();
      await bus
        .connect({ service: "counted", calls: [] })
        .serve(counted, { add: ({ n }) => ({ sum: n + 1 }) });
      const client = bus.connect({ service: "client", calls: ["counted"] });
      await expect(client.request(counted, "add", { n: 1 })).resolves.toEqual({ sum: 2 });
      const perEnd = kind.name === "in-process" ? 1 : 2;
      expect(checks).toEqual({ params: perEnd, result: perEnd });
      // Still refused on the caller's side, and a frame from outside the bus (no check of its own) is checked.
      await expect(
        client.request(counted, "add", { n: "1" } as unknown as { n: number }),
      ).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
      const transport = await newTransport();
      const other = createBus({ transport });
      await other.connect({ service: "counted", calls: [] }).serve(counted, { add: ({ n }) => ({ sum: n }) });
      const raw = await transport.request(
        "svc.counted.add",
        encodeBusMessage({ n: "1" }),
        { caller: "rogue", traceId: "t" },
        1000,
      );
      expect(decodeBusMessage(raw)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
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
      const bus = await newBus();
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
      await Promise.all(Array.from({ length: 60 }, () => client.request(echoContract, "whoami", {})));
      // In process the members take turns; NATS picks one at random (all three idle by chance: about 1e-10).
      if (kind.name === "in-process") expect(counts).toEqual([20, 20, 20]);
      else
        expect(counts.every((count) => count > 0) && counts[0]! + counts[1]! + counts[2]! === 60).toBe(true);
    });

    it("addresses one process by its instance id, outside the queue group", async () => {
      const bus = await newBus();
      const answered: string[] = [];
      for (const instance of ["node-a", "node-b"]) {
        await bus.connect({ service: "echo", calls: [] }).serve(
          echoContract,
          {
            say: ({ text }) => {
              answered.push(instance);
              return { text: `${text}@${instance}`, caller: "" };
            },
            slow: () => ({ done: true }),
            broken: () => ({ n: 1 }),
            fail: () => ({}),
            bytes: ({ data }) => ({ data }),
            whoami: () => ({ instance: 0 }),
          },
          { instance },
        );
      }
      const client = bus.connect({ service: "client", calls: ["echo"] });
      for (let i = 0; i < 6; i += 1) {
        expect(await client.request(echoContract, "say", { text: "b" }, { instance: "node-b" })).toEqual({
          text: "b@node-b",
          caller: "",
        });
      }
      expect(answered).toEqual(Array.from({ length: 6 }, () => "node-b"));
      // Unaddressed requests still go to the queue group (one member each).
      await client.request(echoContract, "say", { text: "any" });
      expect(answered).toHaveLength(7);
      await expect(
        client.request(echoContract, "say", { text: "c" }, { instance: "node-c", timeoutMs: 2_000 }),
      ).rejects.toMatchObject({ code: "UNAVAILABLE" });
      await expect(
        client.request(echoContract, "say", { text: "x" }, { instance: "a.b" }),
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    });

    it("delivers an event to every subscriber and once per queue group", async () => {
      const { bus, echo, client } = await startEcho();
      const seen: string[] = [];
      let resolveDone = () => {};
      const done = new Promise<void>((resolve) => (resolveDone = resolve));
      const note = (who: string) => () => {
        seen.push(who);
        if (seen.length === 3) resolveDone();
      };
      // Each subscription has reached the transport (on NATS: the server) once its promise resolves.
      await client.subscribe(tickEvent, note("plain"));
      const worker = bus.connect({ service: "worker", calls: [], subscribes: ["echo.tick"] });
      await worker.subscribe(tickEvent, note("w1"), { queue: "workers" });
      await worker.subscribe(tickEvent, note("w2"), { queue: "workers" });
      await client.subscribe(tickEvent, note("plain2"));
      await echo.publish(tickEvent, { n: 1 });
      await done;
      expect(seen.filter((s) => s.startsWith("w"))).toHaveLength(1);
      expect(seen).toEqual(expect.arrayContaining(["plain", "plain2"]));
    });

    it("checks an event once in one process, and again in each subscribing process across processes", async () => {
      let checks = 0;
      const counted = defineEvent(
        "counted.tick",
        z.object({ n: z.number() }).refine(() => (checks += 1) > 0),
      );
      const bus = await newBus();
      const heard: number[] = [];
      let resolveDone = () => {};
      const done = new Promise<void>((resolve) => (resolveDone = resolve));
      const listener = bus.connect({ service: "listener", calls: [] });
      for (let i = 0; i < 2; i += 1)
        await listener.subscribe(counted, ({ n }) => {
          heard.push(n);
          if (heard.length === 2) resolveDone();
        });
      await bus.connect({ service: "ticker", calls: [] }).publish(counted, { n: 7 });
      await done;
      expect(heard).toEqual([7, 7]);
      expect(checks).toBe(kind.name === "in-process" ? 1 : 3);
    });

    it("refuses to publish an invalid payload or an undeclared topic", async () => {
      const { echo, client } = await startEcho();
      await expect(echo.publish(tickEvent, { n: 1.5 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(client.publish(tickEvent, { n: 1 })).resolves.toBeUndefined(); // client declares no publishes list
      const strict = (await newBus()).connect({ service: "s", calls: [], publishes: [] });
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

  describe("bus bytes", () => {
    it("hands a 64 KiB piece over byte-identical both ways (in process: the very same bytes, never a copy)", async () => {
      const bus = await newBus();
      const seen: Uint8Array[] = [];
      const reply = Uint8Array.from({ length: 64 * 1024 }, (_, i) => (i * 31 + 7) % 256);
      await bus.connect({ service: "echo", calls: [] }).serve(echoContract, {
        say: ({ text }) => ({ text, caller: "x" }),
        slow: () => ({ done: true }),
        broken: () => ({ n: 1 }),
        fail: () => ({}),
        bytes: ({ data }) => {
          seen.push(data);
          return { data: reply };
        },
        whoami: () => ({ instance: 1 }),
      });
      const sent = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 13) % 251));
      const answer = await bus
        .connect({ service: "client", calls: ["echo"] })
        .request(echoContract, "bytes", {
          data: sent,
        });
      expect(Buffer.from(seen[0]!).equals(sent)).toBe(true);
      expect(Buffer.from(answer.data).equals(reply)).toBe(true);
      if (kind.name === "in-process") {
        expect(seen[0]).toBe(sent);
        expect(answer.data).toBe(reply);
      }
    });
  });

  describe("bus callee checks", () => {
    it("answers FORBIDDEN_EDGE to a caller whose manifest does not list the callee, and counts it", async () => {
      const transport = await newTransport();
      const manifests = [
        { service: "echo", calls: [] },
        { service: "client", calls: ["echo"] },
        { service: "bystander", calls: [] },
      ];
      const bus = createBus({ transport, manifests });
      await bus.connect({ service: "echo", calls: [] }).serve(echoContract, {
        say: ({ text }, ctx) => ({ text, caller: ctx.caller }),
        slow: () => ({ done: true }),
        broken: () => ({ n: 1 }),
        fail: () => ({}),
        bytes: ({ data }) => ({ data }),
        whoami: () => ({ instance: 1 }),
      });
      const ask = async (caller: string) =>
        decodeBusMessage(
          await transport.request(
            "svc.echo.say",
            encodeBusMessage({ text: "hi" }),
            { caller, traceId: "t" },
            5_000,
          ),
        );
      await expect(ask("client")).resolves.toMatchObject({ ok: true, result: { caller: "client" } });
      // A caller whose own bus skipped its check (changed code), and one the manifests do not know at all.
      await expect(ask("bystander")).resolves.toMatchObject({ ok: false, error: { code: "FORBIDDEN_EDGE" } });
      await expect(ask("stranger")).resolves.toMatchObject({ ok: false, error: { code: "FORBIDDEN_EDGE" } });
      expect(bus.edges()).toContainEqual(
        expect.objectContaining({ caller: "bystander", callee: "echo", method: "say", forbidden: 1 }),
      );
    });
  });
});

describe("bus frames: bytes as bytes", () => {
  it("keeps bytes out of the JSON envelope and restores them where they were", () => {
    const piece = Buffer.alloc(4 * 1024, 9);
    const message = {
      ok: true,
      result: { list: [{ bytes: piece }, 1], complete: false, other: Uint8Array.of(1) },
    };
    const frame = encodeBusMessage(message);
    expect(frame.envelope.length).toBeLessThan(120);
    expect(frame.attachments).toHaveLength(2);
    expect(frame.attachments[0]).toBe(piece);
    expect(decodeBusMessage(frame)).toEqual(message);
    // The message itself is left as it was: only the objects on the way to bytes are copied.
    expect(message.result.list[0]).toEqual({ bytes: piece });
    // Text that merely mentions the marker stays text, with bytes beside it or not.
    const text = { note: 'a "$bin" marker', nested: { $bin: "0", other: 1 } };
    expect(decodeBusMessage(encodeBusMessage(text))).toEqual(text);
    expect(decodeBusMessage(encodeBusMessage({ ...text, b: Buffer.from("x") }))).toEqual({
      ...text,
      b: Buffer.from("x"),
    });
  });

  it("round-trips a frame through its wire bytes with the attachments as views, not copies", () => {
    const frame = encodeBusMessage({
      name: "héllo",
      a: Buffer.from("abc"),
      b: new Uint8Array(0),
      c: Uint8Array.of(255),
    });
    const wire = busFrameToWireBytes(frame);
    const envelopeBytes = Buffer.byteLength(frame.envelope);
    expect(wire.byteLength).toBe(1 + 4 + 4 + 3 * 4 + envelopeBytes + 3 + 0 + 1);
    const read = busFrameFromWireBytes(wire);
    expect(read.envelope).toBe(frame.envelope);
    expect(read.attachments.map((bytes) => [...bytes])).toEqual([[97, 98, 99], [], [255]]);
    expect(read.attachments[0]!.buffer).toBe(wire.buffer);
    expect(decodeBusMessage(read)).toEqual({
      name: "héllo",
      a: Buffer.from("abc"),
      b: Buffer.alloc(0),
      c: Buffer.from([255]),
    });
  });

  it("refuses bytes that are not a frame with BusFrameError", () => {
    const good = busFrameToWireBytes(encodeBusMessage({ a: Buffer.from("abc") }));
    const broken: Array<[string, Uint8Array]> = [
      ["empty", new Uint8Array(0)],
      ["too short", good.subarray(0, 5)],
      ["another version", Uint8Array.from([2, ...good.subarray(1)])],
      ["truncated", good.subarray(0, good.byteLength - 1)],
      ["trailing bytes", Uint8Array.from([...good, 0])],
      ["absurd attachment count", Uint8Array.from([1, 0, 0, 0, 2, 255, 255, 255, 255, 0x7b, 0x7d])],
    ];
    for (const [name, bytes] of broken) {
      expect(() => busFrameFromWireBytes(bytes), name).toThrow(BusFrameError);
    }
    expect(() => decodeBusMessage({ envelope: "{", attachments: [] })).toThrow(BusFrameError);
    expect(() =>
      decodeBusMessage({ envelope: '{"a":{"$bin":1.5}}', attachments: [Uint8Array.of(1)] }),
    ).toThrow(BusFrameError);
  });
});
