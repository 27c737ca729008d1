// The network sample reaching alerts (a process opening another service's database), and the alert webhook.
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { AlertEvent } from "@soundmesh/protocol";
import { isPgAvailable, testPgUrl, waitUntil } from "@soundmesh/test-kit";
import {
  AlertWebhook,
  TopologyCollector,
  buildExpectedGraph,
  createTopologyReporter,
  endpointOfUrl,
} from "@soundmesh/service-topology";

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

const expected = buildExpectedGraph(
  [
    { service: "catalog", calls: [] },
    { service: "search", calls: ["catalog"] },
  ],
  [{ service: "catalog", uses: ["database:catalog"] }],
);

/** A separate process that connects to host:port and holds the connection. */
function connectingChild(host: string, port: number) {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `require("net").connect(${port}, ${JSON.stringify(host)}).on("error", () => {}); setInterval(() => {}, 1000);`,
    ],
    { stdio: "ignore" },
  );
  stops.push(() => child.kill());
  return child;
}

async function flagsDatabaseConnection(address: string, host: string, port: number) {
  const collector = new TopologyCollector({
    expected,
    endpoints: [{ address, node: "database:catalog" }],
    windowMs: 2_000,
    staleAfterMs: 5_000,
  });
  const child = connectingChild(host, port);
  // An agent on this host reports for the child (its sockets through /proc/<pid>/fd) as a search process.
  const reporter = createTopologyReporter({
    manifests: [{ service: "search", calls: ["catalog"] }],
    edges: () => [],
    pid: child.pid!,
    intervalMs: 100,
    send: (report) => Promise.resolve(void collector.ingest(report)),
  });
  reporter.start();
  stops.push(() => reporter.stop());
  await waitUntil(
    () => collector.evaluate().alerts.map((alert) => alert.key),
    (keys) => keys.includes("unexpected-network:search->database:catalog"),
    10_000,
  );
  const edge = collector.snapshot().edges.find((e) => e.id === "search->database:catalog")!;
  expect(edge).toMatchObject({ kind: "network", status: "unexpected", connections: 1 });
}

describe("the network sample in the collector", () => {
  it("flags a process connected to a socket declared as another service's database", async () => {
    const server = createServer((socket) => socket.on("error", () => undefined));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    stops.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;
    await flagsDatabaseConnection(`127.0.0.1:${port}`, "127.0.0.1", port);
  });

  it("flags a process connected to the test PostgreSQL declared as the catalog's database", async () => {
    if (!(await isPgAvailable())) return;
    const address = endpointOfUrl(testPgUrl(), 5432)!;
    const url = new URL(testPgUrl());
    await flagsDatabaseConnection(address, url.hostname, Number(url.port || 5432));
  });
});

describe("the alert webhook", () => {
  const event: AlertEvent = {
    event: "raised",
    atMs: 1,
    alert: {
      key: "service-down:x",
      kind: "service-down",
      severity: "critical",
      subject: "x",
      message: "x is down",
      firstSeenMs: 1,
      lastSeenMs: 1,
    },
  };

  it("POSTs the event as JSON, retrying a failing endpoint a bounded number of times", async () => {
    const bodies: unknown[] = [];
    let calls = 0;
    const server = createHttpServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        calls += 1;
        bodies.push(JSON.parse(text));
        response.statusCode = calls === 1 ? 503 : calls <= 2 ? 200 : 500;
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    stops.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const outcomes: string[] = [];
    const webhook = new AlertWebhook({
      url,
      attempts: 3,
      firstBackoffMs: 10,
      onOutcome: (o) => outcomes.push(o),
    });
    webhook.send(event);
    await webhook.idle();
    expect(calls).toBe(2);
    expect(bodies[1]).toEqual(event);
    // From now on the endpoint always fails: three attempts, then it gives up.
    webhook.send(event);
    await webhook.idle();
    expect(calls).toBe(5);
    expect(outcomes).toEqual(["delivered", "failed"]);
  });
});
