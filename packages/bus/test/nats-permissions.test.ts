// Permissions enforced by the broker: a nats-server started with the config generated from the manifests refuses a
// call, a subscription or a topic outside a service's manifest, even when the process's own code claims it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect } from "@nats-io/transport-node";
import { defineEvent, defineService } from "@soundmesh/protocol";
import { createBus, encodeBusMessage, type Bus, type ServiceManifest } from "@soundmesh/bus";
import {
  createNatsTransport,
  createServiceKey,
  inboxPrefixOf,
  reconnectDelayMs,
  renderNatsServerConfig,
  serviceKeyFromSeed,
  servicePermissions,
  type ServiceKey,
} from "@soundmesh/bus/nats";
import { shouldRunNatsTests, startNatsServer, waitUntil, type NatsServer } from "@soundmesh/test-kit";

const echo = defineService("echo", {
  say: { params: z.object({ text: z.string() }), result: z.object({ text: z.string(), caller: z.string() }) },
});
const said = defineEvent("gateway.said", z.object({ text: z.string() }));

const manifests: ServiceManifest[] = [
  { service: "echo", calls: [] },
  { service: "gateway", calls: ["echo"], publishes: ["gateway.said"] },
  { service: "listener", calls: [], subscribes: ["gateway.said"] },
  { service: "rogue", calls: [] },
];

describe("generated NATS permissions", () => {
  it("give each service exactly its edges, topics, own inbox and the topology report", () => {
    expect(servicePermissions(manifests[1]!)).toEqual({
      publish: { allow: ["evt.gateway.said", "evt.topology.report", "svc.echo.>", "svc.gateway.>"] },
      subscribe: { allow: ["_INBOX.gateway.>", "svc.gateway.>"] },
      allow_responses: { max: 1, expires: "2m" },
    });
    expect(servicePermissions(manifests[2]!).subscribe.allow).toEqual([
      "_INBOX.listener.>",
      "evt.gateway.said",
      "svc.listener.>",
    ]);
    const ring = { kvBuckets: [{ bucket: "ring", writers: ["echo"], readers: ["gateway"] }] };
    expect(servicePermissions(manifests[0]!, ring).publish.allow).toContain("$KV.ring.>");
    expect(servicePermissions(manifests[1]!, ring).publish.allow).not.toContain("$KV.ring.>");
    expect(servicePermissions(manifests[1]!, ring).publish.allow).toContain("$JS.API.DIRECT.GET.KV_ring.>");
    expect(servicePermissions(manifests[3]!, ring).publish.allow.some((s) => s.includes("ring"))).toBe(false);
  });

  it("refuse a config without a key for every service, and seeds that are not user seeds", () => {
    expect(() => renderNatsServerConfig({ manifests, keys: [createServiceKey("echo")] })).toThrow(/gateway/);
    const key = createServiceKey("echo");
    expect(serviceKeyFromSeed("echo", `${key.seed}\n`)).toEqual(key);
    expect(() => serviceKeyFromSeed("echo", "not a seed")).toThrow();
  });

  it("reconnect back-off doubles from its base up to its cap, with at most 20% jitter", () => {
    const options = { baseMs: 100, maxMs: 1_000 };
    expect([0, 1, 2, 3, 4, 10].map((n) => reconnectDelayMs(n, options, () => 0))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(reconnectDelayMs(2, options, () => 0.999)).toBe(480);
  });
});

describe.skipIf(!shouldRunNatsTests())("a nats-server with the generated permissions", () => {
  let nats: NatsServer;
  let keys: Map<string, ServiceKey>;
  const buses: Bus[] = [];
  const violations: Array<{ service: string; operation: string; subject: string }> = [];

  const transportOf = (service: string) =>
    createNatsTransport({
      servers: nats.url,
      name: service,
      nkeySeed: keys.get(service)!.seed,
      inboxPrefix: inboxPrefixOf(service),
      onPermissionViolation: (violation) => violations.push({ service, ...violation }),
    });
  const busOf = async (service: string, registry?: Registry) => {
    const bus = createBus({
      transport: await transportOf(service),
      manifests,
      ...(registry ? { registry } : {}),
    });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    keys = new Map(manifests.map((m) => [m.service, createServiceKey(m.service)] as const));
    const file = join(mkdtempSync(join(tmpdir(), "soundmesh-nats-")), "nats.conf");
    writeFileSync(file, renderNatsServerConfig({ manifests, keys: [...keys.values()] }));
    nats = await startNatsServer(["-c", file]);
    await (
      await busOf("echo")
    )
      .connect(manifests[0]!)
      .serve(echo, { say: ({ text }, ctx) => ({ text, caller: ctx.caller }) });
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await nats?.stop();
  });

  it("carries a declared call, with its reply on the caller's own inbox", async () => {
    const gateway = (await busOf("gateway")).connect(manifests[1]!);
    await expect(gateway.request(echo, "say", { text: "hi" })).resolves.toEqual({
      text: "hi",
      caller: "gateway",
    });
  });

  it("refuses an undeclared call even when the process's code claims the edge, and counts it", async () => {
    const registry = new Registry();
    const bus = await busOf("rogue", registry);
    // The code was changed to claim the edge: its own bus lets the call out, the broker does not.
    const rogue = bus.connect({ service: "rogue", calls: ["echo"] });
    await expect(rogue.request(echo, "say", { text: "hi" })).rejects.toMatchObject({
      code: "FORBIDDEN_EDGE",
    });
    expect(bus.edges()).toContainEqual(
      expect.objectContaining({ caller: "rogue", callee: "echo", method: "say", forbidden: 1 }),
    );
    expect(await registry.metrics()).toContain(
      'soundmesh_bus_requests_total{caller="rogue",callee="echo",method="say",outcome="forbidden"} 1',
    );
    await waitUntil(
      () => violations,
      (seen) =>
        seen.some((v) => v.service === "rogue" && v.operation === "publish" && v.subject === "svc.echo.say"),
    );
  });

  it("refuses to let a service take another's requests, read another's replies or publish its topics", async () => {
    const transport = await transportOf("rogue");
    try {
      const frame = encodeBusMessage({ text: "x" });
      await transport.subscribe("svc.echo.say", () => Promise.resolve(frame), { queue: "echo" });
      await transport.subscribe("_INBOX.gateway.>", () => Promise.resolve(undefined), {});
      await transport.publish("evt.gateway.said", encodeBusMessage({ text: "forged" }), {
        caller: "gateway",
        traceId: "t",
      });
      await waitUntil(
        () => violations.filter((v) => v.service === "rogue").map((v) => `${v.operation} ${v.subject}`),
        (seen) =>
          ["subscription svc.echo.say", "subscription _INBOX.gateway.>", "publish evt.gateway.said"].every(
            (s) => seen.includes(s),
          ),
      );
      // The real echo still answers every call: the refused subscription took none of them.
      const gateway = (await busOf("gateway")).connect(manifests[1]!);
      for (let i = 0; i < 10; i++) {
        await expect(gateway.request(echo, "say", { text: `${i}` })).resolves.toMatchObject({
          caller: "gateway",
        });
      }
    } finally {
      await transport.close();
    }
  });

  it("lets a declared topic through to its subscriber", async () => {
    const listener = (await busOf("listener")).connect(manifests[2]!);
    let resolveHeard: (text: string) => void = () => undefined;
    const heard = new Promise<string>((resolve) => (resolveHeard = resolve));
    // The subscription has reached the server once this resolves.
    await listener.subscribe(said, ({ text }) => resolveHeard(text));
    await (await busOf("gateway")).connect(manifests[1]!).publish(said, { text: "hello" });
    await expect(heard).resolves.toBe("hello");
  });

  it("refuses a connection without a key", async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization/i);
  });
});
