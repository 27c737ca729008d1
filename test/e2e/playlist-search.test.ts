// Playlists in search through the real server: over the WebSocket, each user finds only the playlists they may see,
// a rename and a deletion show in search within moments, and the search documents are not open to clients.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient, login, setupAdmin } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { playlistContract, searchContract, userContract } from "@soundmesh/protocol";

describe("playlists in search over the WebSocket", () => {
  let server: TestServer;
  let alice: WsClient;
  let bob: WsClient;
  let carol: WsClient;
  beforeAll(async () => {
    server = await startServer();
    const aliceToken = await setupAdmin(server.url, "alice", "alice password");
    alice = await WsClient.connect(server.url, aliceToken);
    await alice.call(userContract, "createUser", { name: "bob", password: "bob password" });
    await alice.call(userContract, "createUser", { name: "carol", password: "carol password" });
    bob = await WsClient.connect(server.url, await login(server.url, "bob", "bob password"));
    carol = await WsClient.connect(server.url, await login(server.url, "carol", "carol password"));
  });
  afterAll(async () => {
    await Promise.all([alice, bob, carol].map((client) => client.close()));
    await server.close();
  });

  const playlistHits = async (client: WsClient, q: string) =>
    (await client.call(searchContract, "query", { q, kinds: ["playlist"] })).hits
      .map((hit) => hit.title)
      .sort();

  it("finds a private playlist for its owner and collaborator only, a public one for everyone", async () => {
    const secret = await alice.call(playlistContract, "create", {
      name: "Secret Garden",
    });
    await alice.call(playlistContract, "invite", { playlistId: secret.playlist.id, userName: "bob" });
    await bob.call(playlistContract, "acceptInvitation", { playlistId: secret.playlist.id });
    await alice.call(playlistContract, "create", { name: "Garden Party", isPublic: true });

    await expect.poll(() => playlistHits(bob, "garden")).toEqual(["Garden Party", "Secret Garden"]);
    expect(await playlistHits(alice, "garden")).toEqual(["Garden Party", "Secret Garden"]);
    expect(await playlistHits(carol, "garden")).toEqual(["Garden Party"]);
    const { hits } = await carol.call(searchContract, "query", { q: "garden part" });
    expect(hits).toMatchObject([{ kind: "playlist", title: "Garden Party", subtitle: "Playlist · alice" }]);
  });

  it("finds a renamed playlist by its new name, and a deleted one no more", async () => {
    const created = await alice.call(playlistContract, "create", {
      name: "Morning Coffee",
      isPublic: true,
    });
    const playlistId = created.playlist.id;
    await expect.poll(() => playlistHits(carol, "coffee")).toEqual(["Morning Coffee"]);
    await alice.call(playlistContract, "edit", {
      playlistId,
      baseRevision: 0,
      operations: [{ opId: "renameop01", operation: { type: "rename", name: "Evening Tea" } }],
    });
    await expect.poll(() => playlistHits(carol, "evening tea")).toEqual(["Evening Tea"]);
    expect(await playlistHits(carol, "coffee")).toEqual([]);
    await alice.call(playlistContract, "delete", { playlistId });
    await expect.poll(() => playlistHits(carol, "evening tea")).toEqual([]);
  });

  it("refuses bad queries and keeps the search documents from clients", async () => {
    await expect(
      alice.call(searchContract, "query", { q: "garden", kinds: ["playlists"] as never }),
    ).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(alice.call(searchContract, "query", { q: " " })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(alice.call(playlistContract, "searchDocuments", {})).rejects.toMatchObject({
      code: "UNKNOWN_METHOD",
    });
  });
});
