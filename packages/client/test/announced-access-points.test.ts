// The access points a cluster's access point announces (its hello, then `accessPoints` frames): the session client
// tries them after the addresses it was given, drops one that left unless it was given, refuses a malformed list,
// and a browser page (followAnnouncedAccessPoints: false) keeps to its own address.
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { waitUntil } from "@soundmesh/test-kit";
import { SessionClient } from "../src/index";

let server: WebSocketServer | undefined;
const clients: SessionClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A stand-in access point that greets with `announced(its own address)` and sends what the test pushes afterwards. */
async function fakeAccessPoint(announced: (self: string) => string[]) {
  const sockets: WebSocket[] = [];
  server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => server!.once("listening", () => resolve()));
  const address = server.address() as { port: number };
  const url = `ws://127.0.0.1:${address.port}/ws`;
  server.on("connection", (socket) => {
    sockets.push(socket);
    socket.send(
      JSON.stringify({
        t: "hello",
        sessionId: "s",
        peerId: "p",
        user: { id: "u", name: "n" },
        accessPoints: announced(url),
      }),
    );
  });
  return { url, send: (frame: unknown) => sockets.forEach((socket) => socket.send(JSON.stringify(frame))) };
}

/** Opens a client on `url` (and a given fallback); `frames` has every frame it read. */
const open = async (url: string, more: { followAnnouncedAccessPoints?: boolean } = {}) => {
  const frames: Array<{ t: string }> = [];
  const client = await SessionClient.open({
    url,
    fallbackUrls: ["ws://127.0.0.1:9/ws"],
    WebSocket,
    log: () => undefined,
    onFrame: (frame) => frames.push(frame),
    ...more,
  });
  clients.push(client);
  return { client, frames };
};

describe("announced access points", () => {
  it("tries them after the given addresses, and follows the list as access points come and go", async () => {
    const other = "ws://127.0.0.1:2/ws";
    // The hello names this access point first, then another.
    const ap = await fakeAccessPoint((self) => [self, other]);
    const self = ap.url;
    const { client } = await open(self);
    expect(client.knownUrls).toEqual([self, "ws://127.0.0.1:9/ws", other]);
    expect(client.url).toBe(self);
    // One left, another joined.
    const third = "ws://127.0.0.1:3/ws";
    ap.send({ t: "accessPoints", urls: [self, third] });
    await waitUntil(
      () => client.knownUrls,
      (urls) => urls.includes(third),
    );
    expect(client.knownUrls).toEqual([self, "ws://127.0.0.1:9/ws", third]);
    expect(client.url).toBe(self);
    // A list that is not socket addresses is not one of the protocol's frames: dropped, the list kept.
    ap.send({ t: "accessPoints", urls: ["http://evil.example/ws"] });
    ap.send({ t: "accessPoints", urls: [self] });
    await waitUntil(
      () => client.knownUrls,
      (urls) => !urls.includes(third),
    );
    expect(client.knownUrls).toEqual([self, "ws://127.0.0.1:9/ws"]);
  });

  it("keeps to the given addresses when told not to follow (a browser page)", async () => {
    const ap = await fakeAccessPoint(() => ["ws://127.0.0.1:2/ws"]);
    const { client, frames } = await open(ap.url, { followAnnouncedAccessPoints: false });
    ap.send({ t: "accessPoints", urls: ["ws://127.0.0.1:3/ws"] });
    await waitUntil(
      () => frames.map((frame) => frame.t),
      (kinds) => kinds.includes("accessPoints"),
    );
    expect(client.knownUrls).toEqual([ap.url, "ws://127.0.0.1:9/ws"]);
  });
});
