// The same bus over a real nats-server: request/reply, queue groups across connections, timeouts, events.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineEvent, defineService } from "@soundmesh/protocol";
import { createBus, createNatsTransport, type Bus } from "@soundmesh/bus";
import { shouldRunNatsTests, startNatsServer, type NatsServer } from "@soundmesh/test-kit";

const contract = defineService("echo", {
  say: {
    params: z.object({ text: z.string().max(10) }),
    result: z.object({ text: z.string(), caller: z.string(), userId: z.string().optional() }),
  },
  whoami: { params: z.object({}), result: z.object({ instance: z.number() }) },
  slow: { params: z.object({}), result: z.object({}) },
  bytes: { params: z.object({ data: z.instanceof(Uint8Array) }), result: z.object({ size: z.number() }) },
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
});
