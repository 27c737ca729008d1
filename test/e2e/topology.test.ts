// The topology in the all-in-one server: every service live in one process, the snapshot over the socket and as
// JSON for admins only, the metrics, and an alert for a call outside the manifests.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogContract, userContract, topologyContract } from "@soundmesh/protocol";
import { WsClient, login, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";

const topologyOverrides = {
  topology: { reportIntervalMs: 200, evaluateIntervalMs: 200, windowMs: 3_000, staleAfterMs: 2_000 },
};

describe("the topology of the all-in-one server", () => {
  let server: TestServer;
  let adminToken: string;
  let userToken: string;

  beforeAll(async () => {
    server = await startServer({ overrides: topologyOverrides });
    adminToken = await setupAdmin(server.url);
    const admin = await WsClient.connect(server.url, adminToken);
    await admin.call(userContract, "createUser", { name: "bob", password: "bob password", role: "user" });
    await admin.close();
    userToken = await login(server.url, "bob", "bob password");
  });
  afterAll(() => server?.close());

  const get = (path: string, token?: string) =>
    fetch(`${server.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

  it("shows every service live in this process, with manifests matching the code", async () => {
    const response = await waitUntil(
      async () =>
        (await get("/api/topology", adminToken)).json() as Promise<{
          nodes: Array<{
            id: string;
            kind: string;
            instances: Array<{ live: boolean; manifestMatches: boolean }>;
          }>;
          version: string;
        }>,
      (body) => body.nodes.filter((n) => n.kind === "service").every((n) => n.instances.some((i) => i.live)),
    );
    expect(response.version).toMatch(/^[0-9a-f]{16}$/);
    const services = response.nodes.filter((n) => n.kind === "service").map((n) => n.id);
    expect(services).toEqual(expect.arrayContaining(["access-point", "catalog", "user", "topology"]));
    for (const node of response.nodes.filter((n) => n.kind === "service")) {
      expect(node.instances.every((i) => i.manifestMatches)).toBe(true);
    }
  });

  it("answers /api/topology to admins only, and refuses a bad history subject", async () => {
    expect((await get("/api/topology")).status).toBe(401);
    expect((await get("/api/topology", userToken)).status).toBe(403);
    const bad = await get("/api/topology/history?colour=red", adminToken);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe("VALIDATION_FAILED");
    const history = await get(
      `/api/topology/history?edge=${encodeURIComponent("access-point->user")}`,
      adminToken,
    );
    expect(history.status).toBe(200);
    const user = await WsClient.connect(server.url, userToken);
    await expect(user.call(topologyContract, "snapshot", {})).rejects.toMatchObject({ code: "FORBIDDEN" });
    await user.close();
  });

  it("flags a call outside the manifests within 10 s, on the snapshot and on /metrics", async () => {
    const intruder = server.bus.connect({ service: "tracker", calls: [] });
    await expect(intruder.request(catalogContract, "scanStatus", {})).rejects.toMatchObject({
      code: "FORBIDDEN_EDGE",
    });
    const admin = await WsClient.connect(server.url, adminToken);
    try {
      await waitUntil(
        () => admin.call(topologyContract, "snapshot", {}),
        (snapshot) => snapshot.alerts.some((a) => a.key === "unexpected-edge:tracker->catalog"),
        10_000,
      );
    } finally {
      await admin.close();
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /^soundmesh_topology_alerts_active\{kind="unexpected-edge",severity="critical"\} 1$/m,
    );
    expect(metrics).toContain(
      'soundmesh_topology_alert_events_total{kind="unexpected-edge",event="raised"} 1',
    );
    // Every series the Grafana dashboard draws is exported.
    const dashboard = readFileSync(new URL("../../deploy/grafana/soundmesh.json", import.meta.url), "utf8");
    const names = new Set(dashboard.match(/soundmesh_[a-z0-9_]+/g));
    expect(names.size).toBeGreaterThan(5);
    for (const name of names) expect(metrics).toContain(`# TYPE ${name} `);
  });
});
