// Connections that never finish asking are cut: headers, bodies and idle keep-alive connections time out, while an
// idle WebSocket stays open. Short timeouts are injected; every wait is on the connection's own close. Only the
// access point is needed (real Fastify, real sockets, the stub user service): no whole server.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient } from "@soundmesh/test-kit";
import { userContract } from "@soundmesh/protocol";
import { STUB_TOKEN, startStubAccessPoint, type StubAccessPoint } from "./stub-access-point";

const timeouts = { headersMs: 300, receiveMs: 800, keepAliveMs: 300, idleMs: 500 };

interface RawConnection {
  socket: Socket;
  /** Resolves with everything the server sent and how long the connection lived, once it is closed. */
  closed: Promise<{ text: string; livedMs: number }>;
}

function openConnection(baseUrl: string): RawConnection {
  const { hostname, port } = new URL(baseUrl);
  const openedAt = performance.now();
  const socket = connect(Number(port), hostname);
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  const closed = new Promise<{ text: string; livedMs: number }>((resolve) =>
    socket.once("close", () => resolve({ text, livedMs: performance.now() - openedAt })),
  );
  return { socket, closed };
}

describe("HTTP timeouts", () => {
  let server: StubAccessPoint;
  const token = STUB_TOKEN;
  beforeAll(async () => {
    server = await startStubAccessPoint({ timeouts }, [userContract]);
  });
  afterAll(async () => server?.close());

  it("cuts a request whose body trickles in past receiveTimeoutMs with 408, and keeps an idle WebSocket open", async () => {
    const ws = await WsClient.connect(server.url, token);
    const { hostname, port } = new URL(server.url);
    const slow = openConnection(server.url);
    slow.socket.write(
      `POST /api/login HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\n` +
        "Content-Length: 100000\r\n\r\n{",
    );
    // A byte every 50 ms: never idle, never done.
    const drip = setInterval(() => slow.socket.write(" "), 50);
    const { text, livedMs } = await slow.closed;
    clearInterval(drip);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(livedMs).toBeGreaterThanOrEqual(timeouts.receiveMs - 50);
    // The WebSocket has said nothing for longer than every timeout above, and is still there.
    expect(ws.closeCode).toBeUndefined();
    await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "holder" });
    await ws.close();
  });

  it("cuts a connection that sends half its headers, or nothing, with 408", async () => {
    const { hostname, port } = new URL(server.url);
    const silent = openConnection(server.url);
    const halfHeaders = openConnection(server.url);
    halfHeaders.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`);
    for (const { text, livedMs } of await Promise.all([silent.closed, halfHeaders.closed])) {
      expect(text).toMatch(/^HTTP\/1\.1 408/);
      expect(livedMs).toBeGreaterThanOrEqual(timeouts.headersMs - 50);
    }
  });

  it("closes a keep-alive connection left idle after its response", async () => {
    const { hostname, port } = new URL(server.url);
    const idle = openConnection(server.url);
    idle.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
    const { text } = await idle.closed;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toMatch(/keep-alive/i);
  });
});
