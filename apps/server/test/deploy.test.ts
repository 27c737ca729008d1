// deploy/: the compose file parses and names every service of the manifests, each started as
// `soundmesh service <name>` with its own NKey; the systemd template starts any service; the example cluster.json is
// valid. Docker and systemd are not needed: the files' structure is what is checked.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { clusterServices } from "../src/cluster/cluster-services";
import { parseClusterFile } from "../src/cluster/cluster-file";
import { serviceManifests } from "../src/topology-declarations";

const deployDir = join(import.meta.dirname, "../../../deploy");
const read = (file: string) => readFileSync(join(deployDir, file), "utf8");

interface ComposeService {
  command?: string[];
  image?: string;
  volumes?: string[];
  environment?: Record<string, string>;
}

describe("deploy/compose.yaml", () => {
  const compose = load(read("compose.yaml")) as { services: Record<string, ComposeService> };

  it("runs every service of the manifests as its own container with its own key", () => {
    const started = new Map<string, string[]>();
    for (const [name, service] of Object.entries(compose.services)) {
      const command = service.command ?? [];
      if (command[0] !== "service") continue;
      const which = command[1]!;
      started.set(which, [...(started.get(which) ?? []), name]);
      expect(service.volumes ?? [], name).toContain(`./nats/keys/${which}.nk:/keys/${which}.nk:ro`);
      expect(service.environment?.SOUNDMESH_NATS_KEYS, name).toBe("/keys");
      expect(service.environment?.SOUNDMESH_DATABASE_URL, name).toMatch(/^postgres:\/\//);
    }
    const manifestServices = serviceManifests.map((manifest) => manifest.service).sort();
    expect([...started.keys()].sort()).toEqual(manifestServices);
    expect([...clusterServices].sort()).toEqual(manifestServices);
    // Three storage nodes, each with its own ring id and cache volume.
    const storage = started.get("storage")!;
    expect(storage).toHaveLength(3);
    const nodes = storage.map((name) => compose.services[name]!.command!.at(-1));
    expect(new Set(nodes).size).toBe(3);
    expect(
      new Set(storage.map((name) => compose.services[name]!.volumes!.find((v) => v.endsWith(":/data")))).size,
    ).toBe(3);
  });

  it("runs nats-server with the generated config and PostgreSQL", () => {
    expect(compose.services.nats?.command).toEqual(["-c", "/etc/nats/nats.conf"]);
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
  });
});

describe("deploy/systemd", () => {
  it("has one template that starts any service by instance name", () => {
    const unit = read("systemd/soundmesh@.service");
    const execStart = unit.split("\n").find((line) => line.startsWith("ExecStart="))!;
    expect(execStart).toContain("soundmesh.mjs service");
    expect(unit).toContain("EnvironmentFile=/etc/soundmesh/cluster.env");
    // What the shell makes of the instance name (systemd's "$$" and "%%" unescaped): the service name.
    const script = /-c '([^']+)'/.exec(execStart)![1]!.replaceAll("$$", "$").replaceAll("%%", "%");
    const serviceOf = (instance: string) =>
      execFileSync(
        "sh",
        ["-c", script.replace(/^exec \S+ \S+ service /, "echo ").replace(/ --node.*/, ""), instance],
        {
          encoding: "utf8",
        },
      ).trim();
    expect(serviceOf("access-point-1")).toBe("access-point");
    expect(serviceOf("storage-12")).toBe("storage");
  });

  it("runs nats-server from the config nats-config writes", () => {
    expect(read("systemd/nats-server.service")).toContain(
      "ExecStart=/usr/sbin/nats-server -c /etc/soundmesh/nats.conf",
    );
  });
});

describe("deploy/cluster.example.json", () => {
  it("is a valid cluster file", () => {
    const file = parseClusterFile(read("cluster.example.json"));
    expect(file.services["access-point"]).toBe(2);
    expect(file.nats.nodes).toBe(3);
  });
});
