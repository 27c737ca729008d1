// The same bus over a real nats-server: request/reply, queue groups across connections, timeouts, events.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineEvent, defineService } from "@soundmesh/protocol";
import { connect } from "@nats-io/transport-node";
import {
  busFrameFromWireBytes,
  busFrameToWireBytes,
  createBus,
  createNatsTransport,
  decodeBusMessage,
  encodeBusMessage,
  type Bus,
} from "@soundmesh/bus";
import { shouldRunNatsTests, startNatsServer, type NatsServer } from "@soundmesh/test-kit";

const contract = defineService("echo", {
  say: {
    params: z.object({ text: z.string().max(10) }),
    result: z.object({ text: z.string(), caller: z.string(), userId: z.string().optional() }),
  },
  whoami: { params: z.object({}), result: z.object({ instance: z.number() }) },
  slow: { params: z.object({}), result: z.object({}) },
  bytes: { params: z.object({ data: z.instanceof(Uint8Array) }), result: z.object({ size: z.number() }) },
  reverse: {
    params: z.object({ data: z.instanceof(Uint8Array) }),
    result: z.object({ data: z.instanceof(Uint8Array), complete: z.boolean() }),
  },
});
const event = defineEvent("echo.said", z.object({ text: z.string() }));

describe.skipIf(!shouldRunNatsTests())("bus over NATS", () => {
  let nats: NatsServer;
  const buses: Bus[] = [];
  const newBus = async () => {
    const bus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await nats?.stop();
  });

  async function serveEcho(bus: Bus, instance: number, counts: number[]) {
    await bus.connect({ service: "echo", calls: [] }).serve(contract, {
      say: ({ text }, ctx) => ({ text, caller: ctx.caller, ...(ctx.userId ? { userId: ctx.userId } : {}) }),
      whoami: () => {
        counts[instance] = (counts[instance] ?? 0) + 1;
        return { instance };
      },
      slow: () => new Promise((resolve) => setTimeout(() => resolve({}), 1_000)),
      bytes: ({ data }) => ({ size: data.byteLength }),
      reverse: ({ data }) => ({ data: Buffer.from(data).reverse(), complete: true }),
    });
  }

  it("carries requests, caller and user headers and binary payloads between two connections", async () => {
    const counts: number[] = [];
    await serveEcho(await newBus(), 0, counts);
    const client = (await newBus()).connect({ service: "client", calls: ["echo"] });
    await expect(client.request(contract, "say", { text: "hi" }, { userId: "u1" })).resolves.toEqual({
      text: "hi",
      caller: "client",
      userId: "u1",
    });
    await expect(client.request(contract, "bytes", { data: new Uint8Array(65_536) })).resolves.toEqual({
      size: 65_536,
    });
  });

  it("spreads requests over a service's queue group in separate connections", async () => {
    const counts: number[] = [];
    const [a, b] = [await newBus(), await newBus()];
    const other = defineService("spread", { whoami: contract.methods.whoami });
    let served = 0;
    for (const [index, bus] of [a, b].entries()) {
      await bus.connect({ service: "spread", calls: [] }).serve(other, {
        whoami: () => {
          counts[index] = (counts[index] ?? 0) + 1;
          served += 1;
          return { instance: index };
        },
      });
    }
    const client = (await newBus()).connect({ service: "client", calls: ["spread"] });
    await Promise.all(Array.from({ length: 40 }, () => client.request(other, "whoami", {})));
    expect(served).toBe(40);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  });

  it("maps a slow handler to TIMEOUT and a missing service to UNAVAILABLE", async () => {
    const client = (await newBus()).connect({ service: "client", calls: ["echo", "ghost"] });
    await expect(client.request(contract, "slow", {}, { timeoutMs: 50 })).rejects.toMatchObject({
      code: "TIMEOUT",
    });
    const ghost = defineService("ghost", { boo: { params: z.object({}), result: z.object({}) } });
    await expect(client.request(ghost, "boo", {})).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("delivers events to subscribers in other connections", async () => {
    const publisher = (await newBus()).connect({ service: "echo", calls: [] });
    const listener = (await newBus()).connect({ service: "listener", calls: [] });
    const received = new Promise<string>(
      (resolve) => void listener.subscribe(event, ({ text }) => resolve(text)),
    );
    // The subscription must reach the server before the publish does: a request round trip flushes it.
    await (
      await newBus()
    )
      .connect({ service: "client", calls: ["echo"] })
      .request(contract, "say", { text: "sync" });
    await publisher.publish(event, { text: "hello" });
    await expect(received).resolves.toBe("hello");
  });

  it("sends a 64 KiB piece as raw bytes after a small envelope, both ways, and answers a broken frame with BAD_FRAME", async () => {
    await serveEcho(await newBus(), 0, []);
    const client = (await newBus()).connect({ service: "client", calls: ["echo"] });
    // A plain subscriber beside the queue group sees each request as it travels.
    const watcher = await connect({ servers: nats.url });
    try {
      const seen: Uint8Array[] = [];
      const subscription = watcher.subscribe("svc.echo.reverse", {
        callback: (_error, message) => void seen.push(message.data),
      });
      await watcher.flush();
      const piece = Buffer.from(Array.from({ length: 65_536 }, (_, i) => (i * 7) % 256));
      const reply = await client.request(contract, "reverse", { data: piece });
      expect(reply.complete).toBe(true);
      expect(Buffer.from(reply.data).equals(Buffer.from(piece).reverse())).toBe(true);
      await watcher.flush();
      expect(seen).toHaveLength(1);
      // 64 KiB as base64 would be ~87 KiB; the frame is the bytes plus well under 100 bytes of header and envelope.
      expect(seen[0]!.byteLength).toBeLessThan(65_536 + 100);
      const frame = busFrameFromWireBytes(seen[0]!);
      expect(frame.envelope).toBe('{"data":{"$bin":0}}');
      subscription.unsubscribe();

      const garbage = await watcher.request("svc.echo.reverse", Uint8Array.of(1, 2, 3), { timeout: 5_000 });
      expect(decodeBusMessage(busFrameFromWireBytes(garbage.data))).toMatchObject({
        ok: false,
        error: { code: "BAD_FRAME" },
      });
      const notJson = busFrameToWireBytes({ envelope: "{nope", attachments: [] });
      const answered = await watcher.request("svc.echo.reverse", notJson, { timeout: 5_000 });
      expect(decodeBusMessage(busFrameFromWireBytes(answered.data))).toMatchObject({
        ok: false,
        error: { code: "BAD_FRAME" },
      });
      const wrongParams = busFrameToWireBytes(encodeBusMessage({ data: "not bytes" }));
      const refused = await watcher.request("svc.echo.reverse", wrongParams, { timeout: 5_000 });
      expect(decodeBusMessage(busFrameFromWireBytes(refused.data))).toMatchObject({
        ok: false,
        error: { code: "VALIDATION_FAILED" },
      });
    } finally {
      await watcher.close();
    }
  });
});
