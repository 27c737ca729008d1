// Over a real nats-server: three processes report to a collector in this one; a call outside the manifests and a
// stopped process are flagged.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBus, type Bus } from "@soundmesh/bus";
import { createNatsTransport } from "@soundmesh/bus/nats";
import { shouldRunNatsTests, startNatsServer, waitUntil, type NatsServer } from "@soundmesh/test-kit";
import {
  buildExpectedGraph,
  createTopologyService,
  topologyManifest,
  type TopologyService,
} from "@soundmesh/service-topology";
import { manifests } from "./fixtures/nats-process";

const script = fileURLToPath(new URL("./fixtures/nats-process.ts", import.meta.url));

describe.runIf(shouldRunNatsTests())("topology over NATS", () => {
  let nats: NatsServer;
  let bus: Bus;
  let topology: TopologyService;
  const children = new Map<string, ChildProcess>();

  function startProcess(role: string): Promise<void> {
    const child = spawn(process.execPath, ["--import", "tsx", script, nats.url, role], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.set(role, child);
    return new Promise((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().startsWith("ready") && resolve());
      child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
    });
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
    topology = createTopologyService({
      bus: bus.connect(topologyManifest),
      logger: pino({ level: "silent" }),
      evaluateIntervalMs: 100,
      collector: {
        expected: buildExpectedGraph([manifests.echo!, manifests.gateway!, manifests.rogue!]),
        windowMs: 2_000,
        staleAfterMs: 1_500,
      },
    });
    await topology.start();
    await Promise.all(["echo", "gateway", "rogue"].map(startProcess));
  }, 60_000);

  afterAll(async () => {
    for (const child of children.values()) if (child.exitCode === null) child.kill();
    await topology?.stop();
    await bus?.close();
    await nats?.stop();
  });

  it("groups three processes' reports into one graph and flags the call outside the manifests", async () => {
    const snapshot = await waitUntil(
      () => topology.collector.snapshot(),
      (s) =>
        s.edges.some((e) => e.id === "gateway->echo" && e.status === "ok") &&
        s.alerts.some((a) => a.key === "unexpected-edge:rogue->echo"),
      10_000,
    );
    for (const service of ["echo", "gateway", "rogue"]) {
      const node = snapshot.nodes.find((n) => n.id === service)!;
      expect(node.instances).toEqual([expect.objectContaining({ live: true, manifestMatches: true })]);
    }
    expect(snapshot.edges.find((e) => e.id === "rogue->echo")).toMatchObject({
      expected: false,
      status: "unexpected",
    });
    expect(snapshot.reports.rejected).toBe(0);
  });

  it("raises service-down for a stopped process, and the gateway's calls start failing", async () => {
    children.get("echo")!.kill("SIGTERM");
    const snapshot = await waitUntil(
      () => topology.collector.snapshot(),
      (s) =>
        s.alerts.some((a) => a.key === "service-down:echo") &&
        s.alerts.some((a) => a.key === "error-ratio:gateway->echo:failing"),
      60_000,
    );
    expect(snapshot.nodes.find((n) => n.id === "echo")!.instances[0]!.live).toBe(false);
  });
});
