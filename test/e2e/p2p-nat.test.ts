// Peers beyond one network: two headless peers, each in its own network namespace behind its own NAT (a router
// namespace masquerading onto 198.18.0.0/15), exchange pieces through coturn (relayed candidates only, with no
// route between the two NATs at all). The direct case (STUN, srflx candidates) is not shown yet. Root only: the
// namespaces, veth pairs and nft tables are made here and removed after, even on failure.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchContract, trackerContract } from "@soundmesh/protocol";
import { WsClient, login, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath, startServer, type TestServer } from "@soundmesh/test-kit/server";
import { generateP2pLibrary } from "./p2p-library";

const tag = String(process.pid % 100_000);
const PUBLIC = "198.18.1.1"; // the root namespace's side of link A: access point and coturn listen here
const TURN_SECRET = "p2p-nat test secret, not for use";
const password = "correct horse battery";

function run(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Why this test cannot run here, or undefined when it can. */
function missing(): string | undefined {
  if (process.getuid?.() !== 0) return "not root";
  for (const tool of ["ip", "nft", "turnserver"])
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  const probe = `smprobe${tag}`;
  if (!run(["ip", "netns", "add", probe]).ok) return "ip netns does not work here";
  run(["ip", "netns", "del", probe]);
  return undefined;
}
const reason = missing();
if (reason)
  console.warn(`\n*** p2p-nat.test.ts SKIPPED: ${reason} (needs root, ip netns, nft and coturn) ***\n`);

/** One listener's network: peer namespace → router namespace (NAT) → the root namespace. */
interface Side {
  peerNs: string;
  routerNs: string;
  /** The root namespace's end of the router's uplink. */
  uplink: string;
  /** The router's public address (what the NAT maps to). */
  publicAddress: string;
}

const sides: Side[] = [];
const made: string[] = [];

function sh(args: string[]): void {
  const result = run(args);
  if (!result.ok) throw new Error(`${args.join(" ")} failed: ${result.output}`);
}

function makeSide(name: "a" | "b", index: number): Side {
  const peerNs = `smp${name}${tag}`;
  const routerNs = `smr${name}${tag}`;
  const uplink = `sm${name}u${tag}`;
  const rootSide = `198.18.${index}.1`;
  const publicAddress = `198.18.${index}.2`;
  const inside = `198.19.${index}`;
  for (const ns of [peerNs, routerNs]) {
    sh(["ip", "netns", "add", ns]);
    made.push(ns);
    sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
  }
  // Uplink: root ⇄ router (the router's public side).
  sh(["ip", "link", "add", uplink, "type", "veth", "peer", "name", `sm${name}w${tag}`]);
  sh(["ip", "link", "set", `sm${name}w${tag}`, "netns", routerNs]);
  sh(["ip", "addr", "add", `${rootSide}/24`, "dev", uplink]);
  sh(["ip", "link", "set", uplink, "up"]);
  sh(["ip", "-n", routerNs, "addr", "add", `${publicAddress}/24`, "dev", `sm${name}w${tag}`]);
  sh(["ip", "-n", routerNs, "link", "set", `sm${name}w${tag}`, "up"]);
  sh(["ip", "-n", routerNs, "route", "add", "default", "via", rootSide]);
  // LAN: router ⇄ peer, masqueraded on the way out.
  sh([
    "ip",
    "-n",
    routerNs,
    "link",
    "add",
    `sm${name}l${tag}`,
    "type",
    "veth",
    "peer",
    "name",
    `sm${name}p${tag}`,
  ]);
  sh(["ip", "-n", routerNs, "link", "set", `sm${name}p${tag}`, "netns", peerNs]);
  sh(["ip", "-n", routerNs, "addr", "add", `${inside}.1/24`, "dev", `sm${name}l${tag}`]);
  sh(["ip", "-n", routerNs, "link", "set", `sm${name}l${tag}`, "up"]);
  sh(["ip", "-n", peerNs, "addr", "add", `${inside}.2/24`, "dev", `sm${name}p${tag}`]);
  sh(["ip", "-n", peerNs, "link", "set", `sm${name}p${tag}`, "up"]);
  sh(["ip", "-n", peerNs, "route", "add", "default", "via", `${inside}.1`]);
  sh(["ip", "netns", "exec", routerNs, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  sh([
    "ip",
    "netns",
    "exec",
    routerNs,
    "nft",
    `add table ip nat; add chain ip nat post { type nat hook postrouting priority 100 ; } ; add rule ip nat post oifname "sm${name}w${tag}" masquerade`,
  ]);
  return { peerNs, routerNs, uplink, publicAddress };
}

function removeNetworks(): void {
  // Deleting a namespace removes its veth ends, and with them the root's ends and the router's nft table.
  for (const ns of made.splice(0).reverse()) run(["ip", "netns", "del", ns]);
}

describe.skipIf(reason !== undefined)("peers behind NAT, through TURN", () => {
  let server: TestServer;
  let coturn: ChildProcess | undefined;
  let coturnLog = "";
  const work = mkdtempSync(join(tmpdir(), "soundmesh-p2p-nat-"));
  const children = new Set<ChildProcess>();
  let trackIds: string[];
  let turnPort: number;
  const cleanupOnExit = () => removeNetworks();

  beforeAll(async () => {
    process.once("exit", cleanupOnExit);
    try {
      sides.push(makeSide("a", 1), makeSide("b", 2));
      turnPort = 30_000 + (process.pid % 20_000);
      coturn = spawn(
        "turnserver",
        [
          "-n",
          "--listening-ip",
          PUBLIC,
          "--relay-ip",
          PUBLIC,
          "--listening-port",
          String(turnPort),
          "--min-port",
          "50000",
          "--max-port",
          "50999",
          "--use-auth-secret",
          "--static-auth-secret",
          TURN_SECRET,
          "--realm",
          "soundmesh",
          "--no-tls",
          "--no-dtls",
          "--no-cli",
          "--fingerprint",
          "--pidfile",
          join(work, "turnserver.pid"),
          "--userdb",
          join(work, "turndb"),
          "--log-file",
          "stdout",
          "--simple-log",
          "--verbose",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      coturn.stdout!.on("data", (chunk: Buffer) => (coturnLog += chunk.toString()));
      coturn.stderr!.on("data", (chunk: Buffer) => (coturnLog += chunk.toString()));
      await waitUntil(
        () => coturnLog,
        (log) => /listener opened on|IPv4\. UDP listener/i.test(log) || coturn!.exitCode !== null,
        15_000,
      );
      if (coturn.exitCode !== null) throw new Error(`turnserver exited:\n${coturnLog}`);

      const library = await generateP2pLibrary(3, 40);
      server = await startServer({
        libraryFolders: [library],
        overrides: {
          host: PUBLIC,
          ice: {
            stunUrls: [`stun:${PUBLIC}:${turnPort}`],
            turn: {
              urls: [`turn:${PUBLIC}:${turnPort}?transport=udp`],
              secret: TURN_SECRET,
              ttlSeconds: 600,
            },
          },
        },
      });
      const token = await setupAdmin(server.url, "admin", password);
      const ws = await WsClient.connect(server.url, token);
      const found = await waitUntil(
        () => ws.call(searchContract, "query", { q: "tone", kinds: ["track"] }),
        (r) => r.hits.length === 3,
        30_000,
      );
      trackIds = found.hits.map((hit) => hit.id);
      await ws.close();
    } catch (error) {
      removeNetworks();
      throw error;
    }
  }, 180_000);

  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    coturn?.kill("SIGTERM");
    await server?.close();
    removeNetworks();
    process.off("exit", cleanupOnExit);
    rmSync(work, { recursive: true, force: true });
  });

  /** `soundmesh peer` inside a peer namespace; resolves with its JSON report once it has ended. */
  function peer(
    side: Side,
    trackId: string,
    args: string[],
  ): { done: Promise<Record<string, unknown>>; stop(): void } {
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        side.peerNs,
        process.execPath,
        cliPath,
        "peer",
        "--server",
        server.url,
        "-u",
        "admin",
        "-t",
        trackId,
        ...args,
      ],
      {
        env: { ...process.env, ...builtCliEnv, SOUNDMESH_PASSWORD: password },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.add(child);
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const done = new Promise<Record<string, unknown>>((resolve, reject) =>
      child.once("exit", (code) => {
        children.delete(child);
        const line = output.split("\n").find((text) => text.startsWith("{"));
        if (code === 0 && line) resolve(JSON.parse(line) as Record<string, unknown>);
        else reject(new Error(`peer exited with ${code}:\n${output}`));
      }),
    );
    return { done, stop: () => child.kill("SIGTERM") };
  }

  /** The first peer plays and stays; the second plays the same track once the tracker lists the first. */
  async function exchange(trackId: string, extraArgs: string[]) {
    const holder = peer(sides[0]!, trackId, ["--speed", "16", "--linger-seconds", "120", ...extraArgs]);
    const ws = await WsClient.connect(server.url, await login(server.url, "admin", password));
    try {
      await waitUntil(
        () => ws.call(trackerContract, "query", { trackId, profile: "opus96", limit: 10 }),
        (answer) => answer.peers.length > 0,
        60_000,
        200,
      );
    } finally {
      await ws.close();
    }
    const listener = await peer(sides[1]!, trackId, ["--speed", "4", ...extraArgs]).done;
    holder.stop();
    await holder.done;
    return listener as {
      bytes: { bySource: Record<string, number>; rejectedPieces: number };
      stutters: number;
    };
  }

  it("exchanges verified pieces through TURN with relayed candidates only, the NATs unable to reach each other", async () => {
    // No forwarding between the uplinks: the only way from one NAT to the other is coturn's relay.
    const report = await exchange(trackIds[0]!, ["--relay-only"]);
    if (process.env.P2P_NAT_DEBUG) console.log(JSON.stringify(report), coturnLog.slice(-6000));
    expect(report.bytes.bySource.peer, JSON.stringify(report)).toBeGreaterThan(0);
    expect(report.bytes.rejectedPieces).toBe(0);
    expect(coturnLog).toMatch(/ALLOCATE/);
  }, 180_000);
});
