// The session client against a real server: typed calls, AppError rebuilt from `err` frames, pushes by topic, a
// dropped socket that reconnects and follows its topics again, a deadline on a server that stopped answering, a
// push for a topic nobody follows, the end of a session, and moving to another access point when the one in use
// does not come back. (The one package test that needs a whole server.)
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AppError,
  playlistContract,
  pushTopics,
  userContract,
  type PlaylistChange,
} from "@soundmesh/protocol";
import { login, setupAdmin, startTcpProxy, waitUntil } from "@soundmesh/test-kit";
import { spawnServer, startServer, type TestServer } from "@soundmesh/test-kit/server";
import { SessionClient, type SessionClientOptions, type SessionState } from "../src/index";

const password = "correct horse battery";

function optionsFor(baseUrl: string, token: string, more: Partial<SessionClientOptions> = {}) {
  const logged: string[] = [];
  const options: SessionClientOptions = {
    url: `${baseUrl.replace(/^http/, "ws")}/ws`,
    WebSocket,
    headers: { authorization: `Bearer ${token}` },
    log: (message) => logged.push(message),
    ...more,
  };
  return { options, logged };
}

async function deadUrl(): Promise<string> {
  const proxy = await startTcpProxy([]);
  await proxy.kill();
  return `ws://${proxy.host}/ws`;
}

describe("session client", () => {
  let dataDir: string;
  let server: TestServer | undefined;
  let port = 0;
  let token: string;
  const clients: SessionClient[] = [];

  const start = async () => {
    server = await startServer({ dataDir, overrides: { port } });
    port = Number(new URL(server.url).port);
  };
  const open = async (more: Partial<SessionClientOptions> = {}, as = token) => {
    const { options, logged } = optionsFor(server!.url, as, more);
    const client = await SessionClient.open(options);
    clients.push(client);
    return { client, logged };
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "soundmesh-client-test-"));
    await start();
    token = await setupAdmin(server!.url, "admin", password);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("calls methods by contract, with params left out when a method takes none", async () => {
    const { client } = await open();
    expect(client.peerId).not.toBe("");
    const me = await client.call(userContract, "me");
    expect(me.name).toBe("admin");
    const { playlist } = await client.call(playlistContract, "create", { name: "Typed" });
    const snapshot = await client.call(playlistContract, "get", { playlistId: playlist.id });
    expect(snapshot.playlist.name).toBe("Typed");
  });

  it("rejects with one AppError carrying the err frame's code and details", async () => {
    const { client } = await open();
    const invalid = await client
      .call(userContract, "createUser", { name: "", password: "x", role: "user" })
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(AppError);
    expect((invalid as AppError).code).toBe("VALIDATION_FAILED");
    expect((invalid as AppError).details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "name" })]),
    );
    const missing = await client
      .call(playlistContract, "get", { playlistId: "no-such-playlist-id" })
      .catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(AppError);
    expect((missing as AppError).code).toBe("NOT_FOUND");

    await client.call(userContract, "createUser", {
      name: "plain",
      password: "plain password",
      role: "user",
    });
    const { client: plain } = await open({}, await login(server!.url, "plain", "plain password"));
    const forbidden = await plain.call(userContract, "listUsers").catch((error: unknown) => error);
    expect((forbidden as AppError).code).toBe("FORBIDDEN");
    // Following an administrators' topic is refused the same way.
    const refused = await plain.follow(pushTopics.scanProgress, () => undefined).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe("FORBIDDEN");
  });

  it("delivers typed pushes of a followed topic, and none after unfollowing", async () => {
    const { client } = await open();
    const pushes: PlaylistChange[] = [];
    const stop = await client.follow(pushTopics.myPlaylists, (change) => pushes.push(change));
    const { playlist } = await client.call(playlistContract, "create", { name: "Pushed" });
    await waitUntil(
      () => pushes,
      (seen) => seen.some((change) => change.playlistId === playlist.id),
    );
    stop();
    const { client: observer } = await open();
    const observed: PlaylistChange[] = [];
    await observer.follow(pushTopics.myPlaylists, (change) => observed.push(change));
    const count = pushes.length;
    const { playlist: later } = await client.call(playlistContract, "create", { name: "Unseen" });
    // The other session of the same user gets this one, so it was pushed; the first no longer follows.
    await waitUntil(
      () => observed,
      (seen) => seen.some((change) => change.playlistId === later.id),
    );
    expect(pushes).toHaveLength(count);
  });

  it("ignores a push for a topic it does not follow, with a log line, and keeps working", async () => {
    const { client, logged } = await open();
    // Followed behind the client's back: the server pushes, the client knows no such topic.
    client.sendRaw(JSON.stringify({ t: "sub", topic: pushTopics.myPlaylists.name }));
    await client.call(playlistContract, "create", { name: "Unfollowed" });
    await waitUntil(
      () => logged,
      (lines) => lines.includes("dropped a push for a topic not followed"),
    );
    await expect(client.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
  });

  it("reconnects after the server restarts, follows its topics again, and answers calls made meanwhile", async () => {
    const states: SessionState[] = [];
    const { client } = await open({
      reconnect: { baseMs: 50, maxMs: 500 },
      onState: (state) => states.push(state),
    });
    const pushes: PlaylistChange[] = [];
    await client.follow(pushTopics.myPlaylists, (change) => pushes.push(change));
    // A request in flight when the socket drops is failed with UNAVAILABLE (or answered first), never left hanging.
    const inFlight = client.call(userContract, "me", {}, { timeoutMs: 60_000 }).then(
      () => "answered",
      (error: unknown) => (error as AppError).code,
    );
    await server!.close();
    server = undefined;
    expect(["answered", "UNAVAILABLE"]).toContain(await inFlight);
    await waitUntil(
      () => client.state,
      (state) => state === "reconnecting",
    );
    const meanwhile = client.call(userContract, "me", {}, { timeoutMs: 60_000 });
    await start();
    await expect(meanwhile).resolves.toMatchObject({ name: "admin" });
    expect(states).toEqual(expect.arrayContaining(["reconnecting", "open"]));
    const { playlist } = await client.call(playlistContract, "create", { name: "After restart" });
    await waitUntil(
      () => pushes,
      (seen) => seen.some((change) => change.playlistId === playlist.id),
    );
  }, 60_000);

  it("moves to the next access point when the one in use does not come back, and follows its topics there", async () => {
    const direct = `${server!.url.replace(/^http/, "ws")}/ws`;
    // Another "access point" in front of the same sessions: a TCP path to the server that dies for good.
    const pathA = await startTcpProxy([server!.url]);
    const urlA = `ws://${pathA.host}/ws`;
    const states: SessionState[] = [];
    const { client } = await open({
      url: urlA,
      fallbackUrls: [direct],
      reconnect: { baseMs: 50, maxMs: 500 },
      onState: (state) => states.push(state),
    });
    expect(client.url).toBe(urlA);
    const pushes: PlaylistChange[] = [];
    await client.follow(pushTopics.myPlaylists, (change) => pushes.push(change));
    const firstSession = client.hello!.sessionId;
    await pathA.kill();
    await waitUntil(
      () => states,
      (seen) => seen.includes("reconnecting"),
    );
    // A call made while the client is between access points waits for the next one.
    const meanwhile = client.call(userContract, "me", {}, { timeoutMs: 30_000 });
    await expect(meanwhile).resolves.toMatchObject({ name: "admin" });
    expect(client.url).toBe(direct);
    expect(client.state).toBe("open");
    expect(states).toEqual(expect.arrayContaining(["reconnecting", "open"]));
    // The same session token, accepted by the other access point: a new socket of the same user.
    expect(client.hello!.user.name).toBe("admin");
    expect(client.hello!.sessionId).toBe(firstSession);
    const { playlist } = await client.call(playlistContract, "create", { name: "After failover" });
    await waitUntil(
      () => pushes,
      (seen) => seen.some((change) => change.playlistId === playlist.id),
    );
  }, 60_000);

  it("opens on the next access point when the first refuses, and fails only once each was tried", async () => {
    const direct = `${server!.url.replace(/^http/, "ws")}/ws`;
    const { client } = await open({ url: await deadUrl(), fallbackUrls: [direct] });
    expect(client.url).toBe(direct);
    await expect(client.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
    const { options } = optionsFor(server!.url, token, {
      url: await deadUrl(),
      fallbackUrls: [await deadUrl()],
    });
    const error = await SessionClient.open(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("UNAVAILABLE");
  });

  it("gives up on an access point that takes the connection but never says hello, and opens on the next", async () => {
    // A host that holds connections open and answers nothing (hung, or half gone behind a balancer).
    const held = new Set<Socket>();
    const silent = createServer((socket) => {
      held.add(socket);
      socket.on("close", () => held.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const silentUrl = `ws://127.0.0.1:${(silent.address() as { port: number }).port}/ws`;
      const direct = `${server!.url.replace(/^http/, "ws")}/ws`;
      const { client } = await open({
        url: silentUrl,
        fallbackUrls: [direct],
        reconnect: { baseMs: 50, connectTimeoutMs: 300 },
      });
      expect(client.url).toBe(direct);
      expect(client.lastError).toMatch(/no hello from .* within 300 ms/);
      await expect(client.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("ends when its session is signed out: state signed-out, calls rejected with UNAVAILABLE", async () => {
    const ownToken = await login(server!.url, "admin", password);
    const { client } = await open({ reconnect: { baseMs: 50, maxMs: 500 } }, ownToken);
    const response = await fetch(`${server!.url}/api/logout`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ownToken}` },
      body: "{}",
    });
    expect(response.ok).toBe(true);
    await waitUntil(
      () => client.state,
      (state) => state === "signed-out",
    );
    const error = await client.call(userContract, "me").catch((e: unknown) => e);
    expect((error as AppError).code).toBe("UNAVAILABLE");
  });

  it("rejects the first open with the reason when the token is refused", async () => {
    const { options } = optionsFor(server!.url, "not-a-token");
    const error = await SessionClient.open(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).message).toMatch(/401/);
  });
});

describe("session client against a server that stops answering", () => {
  it("rejects a call with TIMEOUT at its deadline, and the session still works once the server runs again", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-client-stop-"));
    // One process (no launcher): SIGSTOP must freeze the server itself.
    const child = await spawnServer(dataDir, { SOUNDMESH_MEMORY_SETTINGS: "off" });
    try {
      const token = await setupAdmin(child.url, "admin", password);
      const { options } = optionsFor(child.url, token);
      const client = await SessionClient.open(options);
      await expect(client.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
      // Frozen (SIGSTOP), the server holds the socket open and answers nothing.
      child.process.kill("SIGSTOP");
      try {
        const error = await client.call(userContract, "me", {}, { timeoutMs: 500 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).code).toBe("TIMEOUT");
      } finally {
        child.process.kill("SIGCONT");
      }
      // The late answer to the timed-out call is dropped; a new call is answered.
      await expect(client.call(userContract, "me", {}, { timeoutMs: 20_000 })).resolves.toMatchObject({
        name: "admin",
      });
      await client.close();
    } finally {
      child.process.kill("SIGTERM");
      await child.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
