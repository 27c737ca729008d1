// Transcoding ahead through a real server: an admin queues the whole library over the WebSocket and follows the
// pushed progress to the end; nobody else may start it, read it or follow it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  WsClient,
  fixtureTracks,
  generateFixtureLibrary,
  login,
  setupAdmin,
  waitUntil,
} from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import type { ServerFrame, TranscodeStatus } from "@soundmesh/protocol";
import { catalogContract, searchContract, storageContract, userContract } from "@soundmesh/protocol";

let server: TestServer;
let admin: WsClient;

beforeAll(async () => {
  const library = await generateFixtureLibrary();
  server = await startServer({ libraryFolders: [library.root] });
  admin = await WsClient.connect(server.url, await setupAdmin(server.url, "admin", "correct horse battery"));
  await waitUntil(
    () => admin.call(catalogContract, "scanStatus"),
    (status) => !status.running && status.added === fixtureTracks.length,
    30_000,
  );
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await server?.close();
});

describe("transcoding ahead", () => {
  it("queues every track in the profiles made ahead and pushes progress until all are ready", async () => {
    admin.sendRaw(JSON.stringify({ t: "sub", topic: "storage.transcodeProgress" }));
    await admin.waitFor((frame) => frame.t === "res" && frame.id === "sub:storage.transcodeProgress");
    // The first scan queued the newest tracks itself; that batch ends first.
    await waitUntil(
      () => admin.call(storageContract, "transcodeStatus"),
      (status) => !status.working,
      60_000,
    );
    const started = await admin.call(storageContract, "transcodeAhead", {
      tracks: 1_000_000,
      profiles: ["opus160"],
    });
    expect(started).toMatchObject({ working: true, done: 0, failed: 0, total: fixtureTracks.length });
    const isFinal = (frame: ServerFrame) =>
      frame.t === "push" &&
      frame.topic === "storage.transcodeProgress" &&
      !(frame.data as TranscodeStatus).working;
    const final = (await admin.waitFor(isFinal, 60_000)) as Extract<ServerFrame, { t: "push" }>;
    expect(final.data).toEqual({
      working: false,
      done: fixtureTracks.length,
      failed: 0,
      total: fixtureTracks.length,
    });
    // They are made: each manifest answers at once, in the profile asked for.
    const { hits } = await admin.call(searchContract, "query", {
      q: "svefn",
      kinds: ["track"],
    });
    const response = await fetch(`${server.url}/api/stream/${hits[0]!.id}/opus160/manifest`, {
      headers: { authorization: `Bearer ${await login(server.url, "admin", "correct horse battery")}` },
    });
    expect(response.status).toBe(200);
  }, 90_000);

  it("refuses a plain user: no starting, no status, no progress pushes", async () => {
    await admin.call(userContract, "createUser", {
      name: "listener",
      password: "listener password",
      role: "user",
    });
    const user = await WsClient.connect(server.url, await login(server.url, "listener", "listener password"));
    for (const method of ["transcodeAhead", "transcodeStatus"] as const)
      await expect(user.call(storageContract, method, {}), method).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    user.sendRaw(JSON.stringify({ t: "sub", topic: "storage.transcodeProgress" }));
    expect(
      await user.waitFor((frame) => frame.t === "err" && frame.id === "sub:storage.transcodeProgress"),
    ).toMatchObject({ code: "FORBIDDEN" });
    // Internal methods stay internal, even for an admin.
    // (Their params are not checked here: the access point refuses the name before reading them.)
    for (const method of ["prepare", "manifest", "stats"] as const)
      await expect(admin.call(storageContract, method, {}), method).rejects.toMatchObject({
        code: "UNKNOWN_METHOD",
      });
    await user.close();
  });
});
