// Abuse benchmark: one signed-in user floods the server in one way at a time while another user browses,
// searches and opens a playlist; prints the other user's latency, what the flood got through, and server memory.
// The server runs with its default limits: this measures the defences, not the server without them. The other
// user runs in a process of its own (bench/abuse-victim.ts), so the flooder's client work cannot delay it.
import { spawn } from "node:child_process";
import { readFileSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { WsClient, login, setupAdmin, waitUntil, writeToneSync } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import { percentile, printTable, round, summarize, writeResults, type Row } from "./report";
import { catalogContract, playlistContract, userContract } from "@soundmesh/protocol";

const TRACKS = Number(process.env.BENCH_ABUSE_TRACKS ?? 100);
const phaseMs = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const victimTargetP95Ms = 50;
const victimIntervalMs = 50;
const password = "correct horse battery";

const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-abuse-"));
const library = join(work, "library");
for (let i = 0; i < TRACKS; i++) {
  const album = join(library, "Flood Artist", `Album ${Math.floor(i / 10)}`);
  mkdirSync(album, { recursive: true });
  writeToneSync(join(album, `${(i % 10) + 1} Track ${i}.flac`), {
    frequency: 200 + i * 7,
    seconds: 60,
    codec: ["-c:a", "flac"],
    tags: {
      title: `Track ${i}`,
      artist: "Flood Artist",
      album: `Album ${Math.floor(i / 10)}`,
      track: String((i % 10) + 1),
    },
  });
}

/** Resident memory of a process, from /proc. */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** ffmpeg processes whose parent is the server. */
function ffmpegChildren(serverPid: number): number {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = /\(([^)]*)\)/.exec(stat)?.[1];
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (name === "ffmpeg" && ppid === serverPid) count += 1;
    } catch {
      // The process ended while we looked.
    }
  }
  return count;
}

const server = await spawnServer(join(work, "data"), { SOUNDMESH_LIBRARY: library });
// RSS and ffmpeg children are the server process's, not its launcher's.
const pid = server.serverPid();
const rows: Row[] = [];
try {
  const adminToken = await setupAdmin(server.url, "admin", password);
  const admin = await WsClient.connect(server.url, adminToken);
  await waitUntil(
    () => admin.call(catalogContract, "scanStatus"),
    (s) => s.added === TRACKS && !s.running,
    120_000,
  );
  // A flooder of its own for each phase: a socket cut off for flooding keeps its user out for a while, which would
  // spare the next phase's server the next flood.
  for (const name of ["victim", ...Array.from({ length: 8 }, (_, n) => `flooder${n}`)])
    await admin.call(userContract, "createUser", { name, password, role: "user" });
  await admin.close();

  const victimToken = await login(server.url, "victim", password);
  const victim = await WsClient.connect(server.url, victimToken);
  const albums = (await victim.call(catalogContract, "recentlyAdded", { limit: 10 })).items;
  const trackIds: string[] = [];
  for (const album of albums) {
    const { tracks } = await victim.call(catalogContract, "album", {
      albumId: album.id,
    });
    trackIds.push(...tracks.map((t) => t.id));
  }
  const { playlist } = await victim.call(playlistContract, "create", {
    name: "Victim's list",
    trackIds: trackIds.slice(0, 20),
  });

  /**
   * The other user, as a person clicking through the player does: 20 requests a second (within the per-user
   * limit), round-robin over browse, search and a playlist, from a process of its own (bench/abuse-victim.ts).
   */
  const victimCalls = { albumId: albums[0]!.id, playlistId: playlist.id };
  const victimLoop = () => {
    const args = JSON.stringify({
      url: server.url,
      token: victimToken,
      calls: victimCalls,
      durationMs: phaseMs,
      intervalMs: victimIntervalMs,
    });
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "abuse-victim.ts"), args],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let output = "";
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.startsWith("ready\n")) onReady();
    });
    const done = new Promise<{ samples: number[]; errors: Map<string, number> }>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => {
        if (code !== 0) return reject(new Error(`the victim process exited with ${code}`));
        const { samples, errors } = JSON.parse(output.slice("ready\n".length)) as {
          samples: number[];
          errors: Record<string, number>;
        };
        resolve({ samples, errors: new Map(Object.entries(errors)) });
      });
    });
    return { ready: Promise.race([ready, done.then(() => undefined)]), done };
  };

  let flooderToken = "";
  const wsUrl = `${server.url.replace(/^http/, "ws")}/ws`;

  /** Opens up to `count` raw sockets for the flooder; counts refused upgrades. */
  const openSockets = async (count: number) => {
    const open: WebSocket[] = [];
    let refused = 0;
    await Promise.all(
      Array.from({ length: count }, async () => {
        const socket = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${flooderToken}` } });
        socket.on("error", () => undefined);
        const opened = await new Promise<boolean>((resolve) => {
          socket.once("open", () => resolve(true));
          socket.once("unexpected-response", () => resolve(false));
          socket.once("error", () => resolve(false));
        });
        if (opened) open.push(socket);
        else refused += 1;
      }),
    );
    return { open, refused };
  };

  interface FloodOutcome {
    sent: number;
    accepted: number;
    refused: number;
    note?: string;
  }
  type Flood = (stop: { done: boolean }) => Promise<FloodOutcome>;

  /** Keeps `inFlight` requests outstanding on each socket, counting answers and refusals. */
  const socketFlood =
    (sockets: number, frame: (i: number) => unknown, inFlight = 32): Flood =>
    async (stop) => {
      const { open, refused: socketsRefused } = await openSockets(sockets);
      let sent = 0;
      let accepted = 0;
      let refused = 0;
      await Promise.all(
        open.map(
          (socket) =>
            new Promise<void>((resolve) => {
              let outstanding = 0;
              const pump = () => {
                while (!stop.done && outstanding < inFlight && socket.readyState === WebSocket.OPEN) {
                  socket.send(JSON.stringify(frame(sent)));
                  sent += 1;
                  outstanding += 1;
                }
                if (stop.done || socket.readyState !== WebSocket.OPEN) resolve();
              };
              socket.on("message", (data) => {
                const reply = JSON.parse((data as Buffer).toString("utf8")) as { t: string; code?: string };
                if (reply.t === "res") accepted += 1;
                else if (reply.t === "err") refused += 1;
                else return;
                outstanding -= 1;
                pump();
              });
              socket.once("close", () => resolve());
              const timer = setInterval(() => {
                // Refused frames may go unanswered once a socket is closed; keep the pump honest.
                if (stop.done) {
                  clearInterval(timer);
                  resolve();
                } else if (outstanding >= inFlight) outstanding = Math.floor(inFlight / 2);
                pump();
              }, 100);
              pump();
            }),
        ),
      );
      for (const socket of open) socket.terminate();
      return { sent, accepted, refused, note: `${open.length} sockets open, ${socketsRefused} refused` };
    };

  /** Fetches the first piece of every untranscoded track at once, as fast as answers come. */
  const transcodeFlood: Flood = async (stop) => {
    let sent = 0;
    let accepted = 0;
    let refused = 0;
    let peakFfmpeg = 0;
    const sampler = setInterval(() => (peakFfmpeg = Math.max(peakFfmpeg, ffmpegChildren(pid))), 50);
    const headers = { authorization: `Bearer ${flooderToken}` };
    await Promise.all(
      trackIds.slice(20).map(async (id) => {
        if (stop.done) return;
        sent += 1;
        const response = await fetch(`${server.url}/api/stream/${id}/opus160/pieces/0`, { headers }).catch(
          () => undefined,
        );
        await response?.arrayBuffer().catch(() => undefined);
        if (response?.ok) accepted += 1;
        else refused += 1;
      }),
    );
    clearInterval(sampler);
    return { sent, accepted, refused, note: `at most ${peakFfmpeg} ffmpeg at once` };
  };

  /** HTTP requests with made-up bearer tokens: each costs a token check unless the address is limited. */
  const randomTokenFlood: Flood = async (stop) => {
    let sent = 0;
    let accepted = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (!stop.done) {
          sent += 1;
          const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
          const response = await fetch(`${server.url}/api/stream/${trackIds[0]}/opus96/manifest`, {
            headers: { authorization: `Bearer ${token}` },
          }).catch(() => undefined);
          await response?.arrayBuffer().catch(() => undefined);
          if (response?.status === 429) refused += 1;
          else accepted += 1;
        }
      }),
    );
    return { sent, accepted, refused, note: "accepted = reached the token check (401)" };
  };

  /** 40 sockets each sending 16 MiB frames. */
  const largeFrameFlood: Flood = async (stop) => {
    const big = Buffer.alloc(16 * 1024 * 1024, 0x20);
    let sent = 0;
    let closed = 0;
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 50);
    const { open, refused } = await openSockets(40);
    await Promise.all(
      open.map(
        (socket) =>
          new Promise<void>((resolve) => {
            socket.once("close", () => {
              closed += 1;
              resolve();
            });
            const send = () => {
              if (stop.done || socket.readyState !== WebSocket.OPEN) return resolve();
              sent += 1;
              socket.send(big, { binary: false }, () => setTimeout(send, 10));
            };
            send();
          }),
      ),
    );
    clearInterval(sampler);
    for (const socket of open) socket.terminate();
    return {
      sent,
      accepted: 0,
      refused: closed,
      note: `${refused} upgrades refused; server RSS peak ${round(peakRss, 0)} MiB`,
    };
  };

  const phases: Array<[string, Flood | undefined]> = [
    ["no flood", undefined],
    [
      "requests from 20 sockets",
      socketFlood(20, (i) => ({ t: "req", id: i, method: "catalog.artists", params: {} })),
    ],
    ["sub frames from 20 sockets", socketFlood(20, () => ({ t: "sub", topic: `playlist.${playlist.id}` }))],
    ["first pieces of 80 untranscoded tracks", transcodeFlood],
    ["HTTP with random bearer tokens", randomTokenFlood],
    ["16 MiB frames from 40 sockets", largeFrameFlood],
  ];

  // Signed in before any flood: the random-token flood spends this address's budget for sign-ins.
  const flooderTokens: string[] = [];
  for (const phase of phases.keys()) flooderTokens.push(await login(server.url, `flooder${phase}`, password));
  for (const [phase, [name, flood]] of phases.entries()) {
    flooderToken = flooderTokens[phase]!;
    const stop = { done: false };
    const rssBefore = rssMiB(pid);
    const victimRun = victimLoop();
    await victimRun.ready;
    const timer = setTimeout(() => (stop.done = true), phaseMs);
    const outcome = flood ? await flood(stop) : undefined;
    while (!stop.done) await new Promise((resolve) => setTimeout(resolve, 50));
    clearTimeout(timer);
    const measured = await victimRun.done;
    const stats = summarize(measured.samples);
    rows.push({
      flood: name,
      "victim requests": stats.count,
      "victim errors": [...measured.errors].map(([code, n]) => `${n} ${code}`).join(", ") || 0,
      "victim p50 ms": round(stats.p50, 2),
      "victim p95 ms": round(
        percentile(
          [...measured.samples].sort((a, b) => a - b),
          0.95,
        ),
        2,
      ),
      "victim p99 ms": round(stats.p99, 2),
      "flood sent": outcome?.sent ?? 0,
      "flood answered": outcome?.accepted ?? 0,
      "flood refused": outcome?.refused ?? 0,
      "RSS MiB before/after": `${round(rssBefore, 0)}/${round(rssMiB(pid), 0)}`,
      note: outcome?.note ?? "",
    });
    // Let the flood's leftovers (transcodes, closing sockets) settle so phases do not bleed into each other.
    await waitUntil(
      () => Promise.resolve(ffmpegChildren(pid)),
      (n) => n === 0,
      120_000,
    );
  }
  await victim.close();
} finally {
  server.process.kill("SIGTERM");
  await server.exited;
}

printTable(`Another user's latency while one user floods (target p95 ≤ ${victimTargetP95Ms} ms)`, rows);
writeResults("abuse", rows, { phaseMs, tracks: TRACKS, victimTargetP95Ms });
