// Peers beyond one network: two headless peers, each in its own network namespace behind its own NAT (a router
// namespace masquerading onto 198.18.0.0/15). Through TURN: relayed candidates only, with no route between the two
// NATs at all. Directly with STUN: both routers' uplinks on an "internet" namespace that routes between them (but
// not to the private networks behind them), a STUN-only server and no TURN at all, so the pair ICE selects must be
// the other NAT's server-reflexive (or peer-reflexive) address. Root only: the namespaces, veth pairs and nft
// tables are made here and removed after, even on failure.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchContract, trackerContract } from "@soundmesh/protocol";
import { WsClient, login, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath, startServer, type TestServer } from "@soundmesh/test-kit/server";
import type { SelectedPair } from "@soundmesh/server";
import { generateP2pLibrary } from "./p2p-library";

const tag = String(process.pid % 100_000);
const PUBLIC = "198.18.1.1"; // TURN: the root namespace's side of link A: access point and coturn listen here
const STUN_HOST = "198.18.10.1"; // STUN: the root namespace's side of its link to the internet namespace
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

/** One listener's network: peer namespace → router namespace (NAT) → upstream (the root or "internet" namespace). */
interface Side {
  peerNs: string;
  routerNs: string;
  /** The router's public address (what the NAT maps to). */
  publicAddress: string;
  /** The peer's own (host) address, behind the NAT. */
  insideAddress: string;
}

/** Where a side's router is plugged in and which addresses it gets. */
interface Plan {
  /** The namespace at the other end of the router's uplink; the root namespace when undefined. */
  upstreamNs?: string;
  /** The upstream's address on the uplink (the router's default gateway). */
  gateway: string;
  publicAddress: string;
  /** The first three octets of the /24 behind the NAT. */
  inside: string;
}

const made: string[] = [];

function sh(args: string[]): void {
  const result = run(args);
  if (!result.ok) throw new Error(`${args.join(" ")} failed: ${result.output}`);
}

function addNamespace(ns: string): void {
  sh(["ip", "netns", "add", ns]);
  made.push(ns);
  sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
}

/** `ip` in a namespace, or in the root namespace when undefined. */
const ipIn = (ns: string | undefined, ...args: string[]) => sh(["ip", ...(ns ? ["-n", ns] : []), ...args]);

function makeSide(name: string, plan: Plan): Side {
  const peerNs = `smp${name}${tag}`;
  const routerNs = `smr${name}${tag}`;
  const uplink = `sm${name}u${tag}`;
  const wan = `sm${name}w${tag}`;
  const inside = plan.inside;
  for (const ns of [peerNs, routerNs]) addNamespace(ns);
  // Uplink: upstream ⇄ router (the router's public side).
  sh(["ip", "link", "add", uplink, "type", "veth", "peer", "name", wan]);
  sh(["ip", "link", "set", wan, "netns", routerNs]);
  if (plan.upstreamNs) sh(["ip", "link", "set", uplink, "netns", plan.upstreamNs]);
  ipIn(plan.upstreamNs, "addr", "add", `${plan.gateway}/24`, "dev", uplink);
  ipIn(plan.upstreamNs, "link", "set", uplink, "up");
  ipIn(routerNs, "addr", "add", `${plan.publicAddress}/24`, "dev", wan);
  ipIn(routerNs, "link", "set", wan, "up");
  ipIn(routerNs, "route", "add", "default", "via", plan.gateway);
  // LAN: router ⇄ peer, masqueraded on the way out.
  ipIn(routerNs, "link", "add", `sm${name}l${tag}`, "type", "veth", "peer", "name", `sm${name}p${tag}`);
  ipIn(routerNs, "link", "set", `sm${name}p${tag}`, "netns", peerNs);
  ipIn(routerNs, "addr", "add", `${inside}.1/24`, "dev", `sm${name}l${tag}`);
  ipIn(routerNs, "link", "set", `sm${name}l${tag}`, "up");
  ipIn(peerNs, "addr", "add", `${inside}.2/24`, "dev", `sm${name}p${tag}`);
  ipIn(peerNs, "link", "set", `sm${name}p${tag}`, "up");
  ipIn(peerNs, "route", "add", "default", "via", `${inside}.1`);
  sh(["ip", "netns", "exec", routerNs, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  // A home router: masquerade (keeps the source port when it can, so one inside socket gets one public mapping
  // whoever it talks to: endpoint-independent mapping) and nothing unasked-for in. Dropping a new connection to
  // the router itself also keeps the kernel from recording it: an early check from the other peer to our public
  // port would otherwise hold that tuple and make our own first packet to it leave from another port.
  sh([
    "ip",
    "netns",
    "exec",
    routerNs,
    "nft",
    `add table ip nat; add chain ip nat post { type nat hook postrouting priority 100 ; } ; add rule ip nat post oifname "${wan}" masquerade; ` +
      `add table ip filter; add chain ip filter in { type filter hook input priority 0 ; } ; add rule ip filter in iifname "${wan}" ct state new drop`,
  ]);
  return { peerNs, routerNs, publicAddress: plan.publicAddress, insideAddress: `${inside}.2` };
}

/**
 * The internet namespace for the direct case: a link to the root namespace (the access point and the STUN server
 * listen on its root end) and, through makeSide, one to each router; it forwards between them all. It has no route
 * to the private networks behind the routers, and the root namespace reaches the routers' public sides through it.
 */
function makeInternet(routerNets: string[]): string {
  const ns = `smi${tag}`;
  addNamespace(ns);
  sh(["ip", "link", "add", `smiu${tag}`, "type", "veth", "peer", "name", `smiw${tag}`]);
  sh(["ip", "link", "set", `smiw${tag}`, "netns", ns]);
  ipIn(undefined, "addr", "add", `${STUN_HOST}/24`, "dev", `smiu${tag}`);
  ipIn(undefined, "link", "set", `smiu${tag}`, "up");
  ipIn(ns, "addr", "add", "198.18.10.2/24", "dev", `smiw${tag}`);
  ipIn(ns, "link", "set", `smiw${tag}`, "up");
  for (const net of routerNets) ipIn(undefined, "route", "add", net, "via", "198.18.10.2");
  sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  return ns;
}

function removeNetworks(): void {
  // Deleting a namespace removes its veth ends, and with them the root's ends and the router's nft table.
  for (const ns of made.splice(0).reverse()) run(["ip", "netns", "del", ns]);
}

/** coturn in the root namespace, resolved once it listens; `log()` is everything it has written. */
async function startCoturn(
  listeningIp: string,
  port: number,
  work: string,
  args: string[],
): Promise<{ child: ChildProcess; log(): string }> {
  let log = "";
  const child = spawn(
    "turnserver",
    [
      "-n",
      "--listening-ip",
      listeningIp,
      "--listening-port",
      String(port),
      ...args,
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
  child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  await waitUntil(
    () => log,
    (text) => /listener opened on|IPv4\. UDP listener/i.test(text) || child.exitCode !== null,
    15_000,
  );
  if (child.exitCode !== null) throw new Error(`turnserver exited:\n${log}`);
  return { child, log: () => log };
}

/** The access point on the test library with these settings, and the ids of its three tracks. */
async function startLibraryServer(
  overrides: Record<string, unknown>,
): Promise<{ server: TestServer; trackIds: string[] }> {
  const library = await generateP2pLibrary(3, 40);
  const server = await startServer({ libraryFolders: [library], overrides });
  const token = await setupAdmin(server.url, "admin", password);
  const ws = await WsClient.connect(server.url, token);
  try {
    const found = await waitUntil(
      () => ws.call(searchContract, "query", { q: "tone", kinds: ["track"] }),
      (r) => r.hits.length === 3,
      30_000,
    );
    return { server, trackIds: found.hits.map((hit) => hit.id) };
  } finally {
    await ws.close();
  }
}

interface PeerReport {
  bytes: { bySource: Record<string, number>; rejectedPieces: number };
  stutters: number;
  connections: SelectedPair[];
}

/** The longest a peer may run: the holder lingers up to 120 s; a loaded machine slows both. */
const peerLimitMs = 200_000;

/** `soundmesh peer` inside a peer namespace; resolves with its JSON report once it has ended. */
function peer(
  server: TestServer,
  children: Set<ChildProcess>,
  side: Side,
  trackId: string,
  args: string[],
): { done: Promise<PeerReport>; stop(): void } {
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
  const started = Date.now();
  // A peer that has not ended by then is killed and its output shown, rather than the test timing out blind.
  const limit = setTimeout(() => {
    output += `\n[the test killed this peer after ${peerLimitMs / 1000} s]`;
    child.kill("SIGKILL");
  }, peerLimitMs);
  const done = new Promise<PeerReport>((resolve, reject) =>
    child.once("exit", (code, signal) => {
      clearTimeout(limit);
      children.delete(child);
      const line = output.split("\n").find((text) => text.startsWith("{"));
      if (code === 0 && line) resolve(JSON.parse(line) as PeerReport);
      else
        reject(
          new Error(
            `peer ${side.peerNs} ${args.join(" ")} exited with ${code ?? signal} after ${Date.now() - started} ms:\n${output}`,
          ),
        );
    }),
  );
  return { done, stop: () => child.kill("SIGTERM") };
}

/**
 * The holder plays and stays; the listener plays the same track once the tracker lists the holder. Both reports,
 * once both have ended.
 */
async function exchange(
  server: TestServer,
  children: Set<ChildProcess>,
  [holderSide, listenerSide]: Side[],
  trackId: string,
  extraArgs: string[],
): Promise<{ holder: PeerReport; listener: PeerReport }> {
  const holder = peer(server, children, holderSide!, trackId, [
    "--speed",
    "16",
    "--linger-seconds",
    "120",
    ...extraArgs,
  ]);
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
  const listener = await peer(server, children, listenerSide!, trackId, ["--speed", "4", ...extraArgs]).done;
  holder.stop();
  return { holder: await holder.done, listener };
}

/** What one describe starts: stopped, and its networks removed, by `tearDown`. */
interface Lab {
  work: string;
  children: Set<ChildProcess>;
  coturn?: { child: ChildProcess; log(): string };
  server?: TestServer;
}

function newLab(): Lab {
  process.once("exit", removeNetworks);
  return { work: mkdtempSync(join(tmpdir(), "soundmesh-p2p-nat-")), children: new Set() };
}

async function tearDown(lab: Lab): Promise<void> {
  for (const child of lab.children) child.kill("SIGKILL");
  lab.coturn?.child.kill("SIGTERM");
  await lab.server?.close();
  removeNetworks();
  process.off("exit", removeNetworks);
  rmSync(lab.work, { recursive: true, force: true });
}

describe.skipIf(reason !== undefined)("peers behind NAT, through TURN", () => {
  const lab = newLab();
  const sides: Side[] = [];
  let server: TestServer;
  let coturn: { child: ChildProcess; log(): string };
  let trackIds: string[];

  beforeAll(async () => {
    try {
      sides.push(
        makeSide("a", { gateway: "198.18.1.1", publicAddress: "198.18.1.2", inside: "198.19.1" }),
        makeSide("b", { gateway: "198.18.2.1", publicAddress: "198.18.2.2", inside: "198.19.2" }),
      );
      const turnPort = 30_000 + (process.pid % 20_000);
      coturn = lab.coturn = await startCoturn(PUBLIC, turnPort, lab.work, [
        "--relay-ip",
        PUBLIC,
        "--min-port",
        "50000",
        "--max-port",
        "50999",
        "--use-auth-secret",
        "--static-auth-secret",
        TURN_SECRET,
        "--realm",
        "soundmesh",
      ]);
      ({ server, trackIds } = await startLibraryServer({
        host: PUBLIC,
        ice: {
          stunUrls: [`stun:${PUBLIC}:${turnPort}`],
          turn: {
            urls: [`turn:${PUBLIC}:${turnPort}?transport=udp`],
            secret: TURN_SECRET,
            ttlSeconds: 600,
          },
        },
      }));
      lab.server = server;
    } catch (error) {
      removeNetworks();
      throw error;
    }
  }, 180_000);

  afterAll(() => tearDown(lab));

  it("exchanges verified pieces through TURN with relayed candidates only, the NATs unable to reach each other", async () => {
    // No forwarding between the uplinks: the only way from one NAT to the other is coturn's relay.
    const { listener: report } = await exchange(server, lab.children, sides, trackIds[0]!, ["--relay-only"]);
    if (process.env.P2P_NAT_DEBUG) console.log(JSON.stringify(report), coturn.log().slice(-6000));
    expect(report.bytes.bySource.peer, JSON.stringify(report)).toBeGreaterThan(0);
    expect(report.bytes.rejectedPieces).toBe(0);
    expect(report.connections.length).toBeGreaterThan(0);
    expect(report.connections.every((pair) => pair.local.type === "relay")).toBe(true);
    expect(coturn.log()).toMatch(/ALLOCATE/);
  }, 300_000);
});

describe.skipIf(reason !== undefined)("peers behind NAT, directly with STUN", () => {
  const lab = newLab();
  const sides: Side[] = [];
  let server: TestServer;
  let stun: { child: ChildProcess; log(): string };
  let internet: string;
  let trackIds: string[];

  beforeAll(async () => {
    try {
      internet = makeInternet(["198.18.11.0/24", "198.18.12.0/24"]);
      sides.push(
        makeSide("c", {
          upstreamNs: internet,
          gateway: "198.18.11.1",
          publicAddress: "198.18.11.2",
          inside: "10.11.0",
        }),
        makeSide("d", {
          upstreamNs: internet,
          gateway: "198.18.12.1",
          publicAddress: "198.18.12.2",
          inside: "10.12.0",
        }),
      );
      const stunPort = 30_000 + ((process.pid + 1) % 20_000);
      // A STUN server only: TURN requests are ignored, and the access point names no TURN server at all.
      stun = lab.coturn = await startCoturn(STUN_HOST, stunPort, lab.work, ["--stun-only"]);
      ({ server, trackIds } = await startLibraryServer({
        host: STUN_HOST,
        ice: { stunUrls: [`stun:${STUN_HOST}:${stunPort}`] },
      }));
      lab.server = server;
    } catch (error) {
      removeNetworks();
      throw error;
    }
  }, 180_000);

  afterAll(() => tearDown(lab));

  it("exchanges verified pieces over a direct server-reflexive pair, the private networks unreachable from each other", async () => {
    // The internet routes between the two routers' public sides but knows nothing behind them: a peer's host
    // address leads nowhere from the other side (and the private nets are not routed to each other anywhere).
    for (const side of sides) {
      const other = sides.find((candidate) => candidate !== side)!;
      expect(run(["ip", "-n", internet, "route", "get", side.insideAddress]).output).toMatch(/unreachable/i);
      expect(run(["ip", "-n", other.routerNs, "route", "get", side.insideAddress]).output).toContain("via");
    }
    const { holder, listener } = await exchange(server, lab.children, sides, trackIds[0]!, []);
    const debug = JSON.stringify({ holder, listener });
    if (process.env.P2P_NAT_DEBUG) console.log(debug, stun.log().slice(-6000));
    expect(listener.bytes.bySource.peer, debug).toBeGreaterThan(0);
    expect(listener.bytes.rejectedPieces).toBe(0);
    // Each side's selected pair: its own host (or server-reflexive) candidate to the other NAT's public mapping,
    // which each learned from the STUN server (srflx) or from the other's first check through that mapping (prflx).
    for (const [report, other] of [
      [listener, sides[0]!],
      [holder, sides[1]!],
    ] as const) {
      expect(report.connections.length, debug).toBeGreaterThan(0);
      for (const pair of report.connections) {
        expect(["host", "srflx"], debug).toContain(pair.local.type);
        expect(["srflx", "prflx"], debug).toContain(pair.remote.type);
        expect(pair.remote.address, debug).toBe(other.publicAddress);
      }
    }
  }, 300_000);
});
