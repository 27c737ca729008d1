// What only NATS has: processes of one service sharing a queue group, a broker restart in the middle of a call,
// the wire format as another NATS client sees it. (bus.test.ts runs every bus test over NATS as well.)
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError, defineEvent, defineService } from "@soundmesh/protocol";
import { connect } from "@nats-io/transport-node";
import {
  busFrameFromWireBytes,
  busFrameToWireBytes,
  createBus,
  decodeBusMessage,
  encodeBusMessage,
  type Bus,
} from "@soundmesh/bus";
import { createNatsTransport } from "@soundmesh/bus/nats";
import { shouldRunNatsTests, startNatsServer, waitUntil, type NatsServer } from "@soundmesh/test-kit";
import { spreadContract } from "./fixtures/worker-process";

const workerScript = fileURLToPath(new URL("./fixtures/worker-process.ts", import.meta.url));

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

  it("spreads one service's requests over two processes through its queue group", async () => {
    const children: ChildProcess[] = [];
    try {
      const pids = await Promise.all(
        [0, 1].map(
          () =>
            new Promise<number>((resolve, reject) => {
              const child = spawn(process.execPath, ["--import", "tsx", workerScript, nats.url], {
                stdio: ["ignore", "pipe", "inherit"],
              });
              children.push(child);
              child.stdout.on("data", (chunk: Buffer) => {
                const match = /^ready (\d+)/.exec(chunk.toString());
                if (match) resolve(Number(match[1]));
              });
              child.once("exit", (code) => reject(new Error(`worker exited with ${code}`)));
            }),
        ),
      );
      const client = (await newBus()).connect({ service: "client", calls: ["spread"] });
      const answers = await Promise.all(
        Array.from({ length: 60 }, () => client.request(spreadContract, "whoami", {})),
      );
      const counts = new Map<number, number>();
      for (const { pid } of answers) counts.set(pid, (counts.get(pid) ?? 0) + 1);
      // Both processes answer (NATS picks a member at random: one idle by chance is about 1e-18).
      expect([...counts.keys()].sort()).toEqual([...pids].sort());
    } finally {
      for (const child of children) child.kill("SIGTERM");
    }
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

describe.skipIf(!shouldRunNatsTests())("bus over a NATS server that restarts", () => {
  const restartContract = defineService("restart", {
    ping: { params: z.object({ n: z.number() }), result: z.object({ n: z.number() }) },
  });
  let nats: NatsServer | undefined;
  const buses: Bus[] = [];
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await nats?.stop();
  });

  const typedFailure = (error: unknown) =>
    error instanceof AppError && ["TIMEOUT", "UNAVAILABLE"].includes(error.code);

  it("a call while the server is down fails with a typed code, and one made while disconnected waits for the restart and is answered", async () => {
    nats = await startNatsServer();
    const port = new URL(nats.url).port;
    const newBus = async () => {
      const bus = createBus({
        transport: await createNatsTransport({ servers: nats!.url, reconnect: { baseMs: 50, maxMs: 500 } }),
      });
      buses.push(bus);
      return bus;
    };
    await (
      await newBus()
    )
      .connect({ service: "restart", calls: [] })
      .serve(restartContract, { ping: ({ n }) => ({ n }) });
    const client = (await newBus()).connect({ service: "client", calls: ["restart"] });
    await expect(client.request(restartContract, "ping", { n: 1 })).resolves.toEqual({ n: 1 });

    await nats.stop();
    // Down and staying down for a call: it fails with a typed code, it does not hang. (Written just before the
    // client saw the drop, it is UNAVAILABLE at once; written after, it waits for the reconnect until its timeout.)
    const whileDown = await client.request(restartContract, "ping", { n: 2 }, { timeoutMs: 300 }).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    expect("error" in whileDown && typedFailure(whileDown.error)).toBe(true);
    await waitUntil(
      () =>
        client
          .request(restartContract, "ping", { n: 2 }, { timeoutMs: 100 })
          .catch((error: unknown) => error),
      (error) => error instanceof AppError && /not connected/.test(error.message),
      20_000,
    );

    // Made while the client knows it is disconnected, a call waits for the reconnect and is answered.
    const acrossRestart = client.request(restartContract, "ping", { n: 3 }, { timeoutMs: 30_000 });
    nats = await startNatsServer(["-p", port]);
    await expect(acrossRestart).resolves.toEqual({ n: 3 });

    // And after the reconnect the service answers again.
    await waitUntil(
      () => client.request(restartContract, "ping", { n: 4 }, { timeoutMs: 1_000 }).catch(() => undefined),
      (result) => result?.n === 4,
      20_000,
    );
  });
});
