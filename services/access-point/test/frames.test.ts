// Memory under large frames: an over-size frame is refused at its header (close 1009) before its payload is read,
// and the bytes of frames received but not yet answered are bounded per socket and in total.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MAX_FRAME_BYTES, defineService, userContract } from "@soundmesh/protocol";
import { WsClient, setupAdmin } from "@soundmesh/test-kit";
import { spawnServer, startServer, type ChildServer, type TestServer } from "@soundmesh/test-kit/server";
import { defaultAccessPointConfig } from "../src/index";
import { STUB_TOKEN, startStubAccessPoint, type StubAccessPoint } from "./stub-access-point";

const MIB = 1024 * 1024;

/** A request frame of exactly `sizeBytes`, padded with a field the protocol ignores. */
function frameOfSize(id: number, method: string, sizeBytes: number): string {
  const bare = JSON.stringify({ t: "req", id, method, params: {}, padding: "" });
  return bare.replace('"padding":""', `"padding":"${"a".repeat(sizeBytes - bare.length)}"`);
}

describe("frame size", () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startServer();
    token = await setupAdmin(server.url);
  });
  afterAll(async () => server?.close());

  it("answers a frame of exactly MAX_FRAME_BYTES and closes the socket with 1009 at one byte more", async () => {
    const ws = await WsClient.connect(server.url, token);
    ws.sendRaw(frameOfSize(1, "user.me", MAX_FRAME_BYTES));
    expect(await ws.waitFor((frame) => frame.t === "res" && frame.id === 1)).toMatchObject({
      result: { name: "admin" },
    });
    ws.sendRaw(frameOfSize(2, "user.me", MAX_FRAME_BYTES + 1));
    await expect.poll(() => ws.closeCode, { timeout: 5_000 }).toBe(1009);
    // The user's other sockets and new ones are unaffected.
    const next = await WsClient.connect(server.url, token);
    await expect(next.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
    await next.close();
  });
});

/** Bytes the kernel counts for a process: resident now, and the peak since the last reset. */
function memoryOf(pid: number): { rssBytes: number; peakBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
  return { rssBytes: kib("VmRSS"), peakBytes: kib("VmHWM") };
}

/** A WebSocket handshake written by hand, so the test can then send a frame header without its payload in memory. */
async function openRawSocket(
  baseUrl: string,
  token: string,
): Promise<{ socket: Socket; received: () => Buffer }> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  let buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => (buffer = Buffer.concat([buffer, chunk])));
  // Writes past the server's close fail with EPIPE/ECONNRESET: expected here.
  socket.on("error", () => undefined);
  socket.write(
    [
      "GET /ws HTTP/1.1",
      `Host: ${hostname}:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
      "Sec-WebSocket-Version: 13",
      `Authorization: Bearer ${token}`,
      "",
      "",
    ].join("\r\n"),
  );
  await expect.poll(() => buffer.includes("\r\n\r\n"), { timeout: 10_000 }).toBe(true);
  expect(buffer.toString("latin1")).toMatch(/^HTTP\/1\.1 101/);
  const bodyStart = buffer.indexOf("\r\n\r\n") + 4;
  return { socket, received: () => buffer.subarray(bodyStart) };
}

/** The close code in the server's frames (unmasked), once a close frame has arrived. */
function closeCodeIn(frames: Buffer): number | undefined {
  let offset = 0;
  while (offset + 2 <= frames.length) {
    const opcode = frames[offset]! & 0x0f;
    let length = frames[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) [length, header] = [frames.readUInt16BE(offset + 2), 4];
    else if (length === 127) [length, header] = [Number(frames.readBigUInt64BE(offset + 2)), 10];
    if (offset + header + length > frames.length) return undefined;
    if (opcode === 0x8) return frames.readUInt16BE(offset + header);
    offset += header + length;
  }
  return undefined;
}

/**
 * Declares a masked 16 MiB text frame, gives the server up to 10 s to refuse it from the header alone, then streams
 * the payload until the server hangs up (or all is sent). A server that refuses at the header has sent its close
 * frame before any payload byte goes out, so no reset from writing into a closed socket can swallow that frame.
 */
async function sendHugeFrame(socket: Socket, received: () => Buffer): Promise<void> {
  const sizeBytes = 16 * MIB;
  const header = Buffer.alloc(14);
  header[0] = 0x81; // FIN, text
  header[1] = 0x80 | 127; // masked, 64-bit length
  header.writeBigUInt64BE(BigInt(sizeBytes), 2);
  randomBytes(4).copy(header, 10);
  socket.write(header);
  const deadline = Date.now() + 10_000;
  while (closeCodeIn(received()) === undefined && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let sentBytes = 0;
  const pump = () => {
    while (sentBytes < sizeBytes && !socket.destroyed) {
      sentBytes += chunk.length;
      if (!socket.write(chunk)) return void socket.once("drain", pump);
    }
  };
  pump();
}

describe("memory under large frames", () => {
  let server: ChildServer;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "soundmesh-frames-"));
    server = await spawnServer(dataDir, { SOUNDMESH_MAX_SOCKETS_PER_USER: "64" });
  });
  afterAll(async () => {
    server?.process.kill("SIGTERM");
    await server?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps the server's memory flat when 40 sockets send 16 MiB frames: each is closed with 1009 at its header", async () => {
    const token = await setupAdmin(server.url);
    const sockets = await Promise.all(Array.from({ length: 40 }, () => openRawSocket(server.url, token)));
    const pid = server.process.pid!;
    // Reset the kernel's peak-RSS mark, so the peak read below is the attack's.
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    const before = memoryOf(pid);
    await Promise.all(sockets.map(({ socket, received }) => sendHugeFrame(socket, received)));
    await expect
      .poll(() => sockets.filter(({ received }) => closeCodeIn(received()) !== undefined).length, {
        timeout: 20_000,
      })
      .toBe(40);
    expect(sockets.map(({ received }) => closeCodeIn(received()))).toEqual(new Array(40).fill(1009));
    const after = memoryOf(pid);
    const grownMiB = (after.peakBytes - before.rssBytes) / MIB;
    console.log(
      `server RSS ${(before.rssBytes / MIB).toFixed(0)} MiB, peak during the attack +${grownMiB.toFixed(1)} MiB`,
    );
    // Reading the frames would have taken 40 × 16 = 640 MiB.
    expect(grownMiB).toBeLessThan(64);
    for (const { socket } of sockets) socket.destroy();
    // The server still serves.
    const ws = await WsClient.connect(server.url, token);
    await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
    await ws.close();
  });
});

/** A method that answers only when the test says so: frames calling it stay in flight. */
const holdContract = defineService("search", {
  hold: { params: z.object({}), result: z.object({ held: z.literal(true) }), exposed: true },
});

describe("bytes in flight", () => {
  let stub: StubAccessPoint;
  const held: Array<() => void> = [];

  beforeAll(async () => {
    stub = await startStubAccessPoint(
      {
        requestTimeoutMs: 60_000,
        sockets: {
          ...defaultAccessPointConfig.sockets,
          inFlightBytesPerSocket: 3 * MIB,
          inFlightBytesTotal: 5 * MIB,
        },
      },
      [holdContract],
    );
    await stub.bus.connect({ service: "search", calls: [] }).serve(holdContract, {
      hold: () => new Promise((resolve) => held.push(() => resolve({ held: true }))),
    });
  });
  afterAll(async () => {
    for (const release of held) release();
    await stub?.close();
  });

  it("refuses a frame with RATE_LIMITED while its socket, or the server, holds too many bytes unanswered", async () => {
    const size = MIB - 100;
    const [a, b] = [
      await WsClient.connect(stub.url, STUB_TOKEN),
      await WsClient.connect(stub.url, STUB_TOKEN),
    ];
    const answerTo = (ws: WsClient, id: number) =>
      ws.waitFor((frame) => (frame.t === "res" || frame.t === "err") && frame.id === id, 20_000);
    // Three frames fill socket a's 3 MiB; the fourth is refused at once, the three stay held.
    for (let id = 1; id <= 4; id++) a.sendRaw(frameOfSize(id, "search.hold", size));
    expect(await answerTo(a, 4)).toMatchObject({ t: "err", code: "RATE_LIMITED" });
    // Two of b's frames fit in the server's 5 MiB; its third does not, though b itself holds only 2 MiB.
    for (let id = 1; id <= 3; id++) b.sendRaw(frameOfSize(id, "search.hold", size));
    expect(await answerTo(b, 3)).toMatchObject({ t: "err", code: "RATE_LIMITED" });
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(5);
    // Answered, the bytes are given back: every held request gets its result, and new frames are taken again.
    for (const release of held.splice(0)) release();
    for (const id of [1, 2, 3]) expect(await answerTo(a, id)).toMatchObject({ t: "res" });
    for (const id of [1, 2]) expect(await answerTo(b, id)).toMatchObject({ t: "res" });
    a.sendRaw(frameOfSize(5, "search.hold", size));
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
    held.splice(0)[0]!();
    expect(await answerTo(a, 5)).toMatchObject({ t: "res" });
    await Promise.all([a.close(), b.close()]);
  });
});
