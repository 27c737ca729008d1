// Playlists through the real server: two WebSocket clients editing one collaborative playlist with the client model
// see each other's edits live, one of them going offline in between; invitations and blocks; private playlists'
// topics stay closed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import type { SessionState } from "@soundmesh/client";
import {
  MAX_COVER_UPLOAD_BYTES,
  playlistContract,
  pushTopics,
  userContract,
  type PlaylistChange,
  type PushTopicRef,
} from "@soundmesh/protocol";
import { PlaylistSync, type PlaylistConnection } from "@soundmesh/playlist-model";
import { WsClient, login, setupAdmin } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";

/**
 * A PlaylistConnection over one WsClient at a time: a device that goes offline (its socket closed) and comes back
 * on a new socket, following its topics again, as the web player's session client does after a reconnect.
 */
class TestConnection implements PlaylistConnection {
  private readonly followed: Array<{ topic: PushTopicRef; onPush: (data: unknown) => void }> = [];
  client!: WsClient;

  async attach(client: WsClient): Promise<void> {
    this.client = client;
    for (const { topic, onPush } of this.followed) await client.follow(topic, onPush);
  }

  get state(): SessionState {
    return this.client.state;
  }

  readonly call: PlaylistConnection["call"] = (contract, method, ...args) =>
    this.client.call(contract, method, ...args);

  readonly subscribe: PlaylistConnection["subscribe"] = (topic, onPush) => {
    this.followed.push({ topic, onPush: onPush as (data: unknown) => void });
    return this.client.subscribe(topic, onPush);
  };

  readonly follow: PlaylistConnection["follow"] = (topic, onPush, options) => {
    this.followed.push({ topic, onPush: onPush as (data: unknown) => void });
    return this.client.follow(topic, onPush, options);
  };
}

const trackIdsOf = (sync: PlaylistSync) => sync.model.items.map((item) => item.trackId);

describe("playlists over the WebSocket", () => {
  let server: TestServer;
  let aliceToken: string;
  let bobToken: string;
  let carolToken: string;
  let bobId: string;
  beforeAll(async () => {
    server = await startServer();
    aliceToken = await setupAdmin(server.url, "alice", "alice password");
    const admin = await WsClient.connect(server.url, aliceToken);
    bobId = (await admin.call(userContract, "createUser", { name: "bob", password: "bob password" })).id;
    await admin.call(userContract, "createUser", { name: "carol", password: "carol password" });
    await admin.close();
    bobToken = await login(server.url, "bob", "bob password");
    carolToken = await login(server.url, "carol", "carol password");
  });
  afterAll(() => server.close());

  it("two clients editing one collaborative playlist see each other's edits, offline ones included", async () => {
    const alice = new TestConnection();
    await alice.attach(await WsClient.connect(server.url, aliceToken));
    const bob = new TestConnection();
    await bob.attach(await WsClient.connect(server.url, bobToken));
    try {
      const created = await alice.call(playlistContract, "create", {
        name: "Road trip",
        isCollaborative: true,
        trackIds: ["track-a"],
      });
      const playlistId = created.playlist.id;
      await alice.call(playlistContract, "invite", { playlistId, userName: "bob" });
      await bob.call(playlistContract, "acceptInvitation", { playlistId });
      const aliceSync = await PlaylistSync.open(alice, playlistId);
      const bobSync = await PlaylistSync.open(bob, playlistId, { userId: bobId });
      expect(trackIdsOf(bobSync)).toEqual(["track-a"]);

      aliceSync.model.append(["track-b"]);
      await expect.poll(() => trackIdsOf(bobSync)).toEqual(["track-a", "track-b"]);
      bobSync.model.insert(null, ["track-c"]);
      await expect.poll(() => trackIdsOf(aliceSync)).toEqual(["track-c", "track-a", "track-b"]);

      // Concurrent edits from both sides converge.
      const first = aliceSync.model.items[0]!.itemId;
      aliceSync.model.move([first], "end");
      bobSync.model.insert(first, ["track-d"]);
      await expect.poll(() => trackIdsOf(aliceSync)).toEqual(["track-a", "track-b", "track-c", "track-d"]);
      await expect.poll(() => trackIdsOf(bobSync)).toEqual(trackIdsOf(aliceSync));

      // Bob goes offline and keeps editing; Alice edits meanwhile; Bob comes back.
      await bob.client.close();
      const removed = bobSync.model.items[1]!.itemId;
      bobSync.model.remove([removed]);
      bobSync.model.rename("Bob was here");
      await bobSync.flush();
      expect(bobSync.model.pending).toHaveLength(2);
      aliceSync.model.append(["track-e"]);
      await expect.poll(() => aliceSync.model.pending.length).toBe(0);
      await bob.attach(await WsClient.connect(server.url, bobToken));
      await bobSync.reconnected();
      const expected = ["track-a", "track-c", "track-d", "track-e"];
      expect(aliceSync.model.info.collaborators).toEqual([{ id: bobId, name: "bob" }]);
      await expect.poll(() => trackIdsOf(aliceSync)).toEqual(expected);
      await expect.poll(() => aliceSync.model.meta.name).toBe("Bob was here");
      expect(trackIdsOf(bobSync)).toEqual(expected);
      expect(bobSync.model.pending).toEqual([]);
      expect(bobSync.model.revision).toBe(aliceSync.model.revision);
      const stored = await alice.call(playlistContract, "get", { playlistId });
      expect(stored.items).toEqual(aliceSync.model.items);
      // Bob leaves: Alice's view of the members follows; Bob's sync learns it has lost the private playlist.
      await bob.call(playlistContract, "removeCollaborator", { playlistId, userId: bobId });
      await expect.poll(() => aliceSync.model.info.collaborators).toEqual([]);
      await expect.poll(() => bobSync.isDeleted).toBe(true);
      aliceSync.close();
      bobSync.close();
    } finally {
      await alice.client.close();
      await bob.client.close();
    }
  });

  it("serves an uploaded cover over HTTP to those who may see the playlist, revalidated by ETag", async () => {
    const alice = await WsClient.connect(server.url, aliceToken);
    try {
      const created = await alice.call(playlistContract, "create", { name: "Art" });
      const image = await sharp({ create: { width: 20, height: 20, channels: 3, background: "#0a0" } })
        .png()
        .toBuffer();
      const asAlice = { authorization: `Bearer ${aliceToken}` };
      const coverUrl = `${server.url}/api/playlists/${created.playlist.id}/cover`;
      const upload = (body: Uint8Array, headers: Record<string, string>) =>
        fetch(coverUrl, { method: "PUT", body: new Uint8Array(body), headers });
      const uploaded = await upload(image, { ...asAlice, "content-type": "image/png" });
      expect(uploaded.status).toBe(200);
      expect(await uploaded.json()).toMatchObject({ id: created.playlist.id, hasUploadedCover: true });
      const url = `${coverUrl}?size=64`;
      const response = await fetch(url, { headers: asAlice });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/jpeg");
      expect(await sharp(Buffer.from(await response.arrayBuffer())).metadata()).toMatchObject({ width: 64 });
      const etag = response.headers.get("etag")!;
      expect((await fetch(url, { headers: { ...asAlice, "if-none-match": etag } })).status).toBe(304);
      const asCarol = await fetch(url, { headers: { authorization: `Bearer ${carolToken}` } });
      expect(asCarol.status).toBe(404);
      expect(await asCarol.json()).toMatchObject({ code: "NOT_FOUND" });
      expect((await fetch(url.replace("size=64", "size=65"), { headers: asAlice })).status).toBe(400);
      expect((await fetch(url)).status).toBe(401);

      // The upload's refusals: no session, not an editor, not an image type, not an image, too large.
      expect((await upload(image, { "content-type": "image/png" })).status).toBe(401);
      const byCarol = await upload(image, {
        authorization: `Bearer ${carolToken}`,
        "content-type": "image/png",
      });
      expect(byCarol.status).toBe(404);
      expect(await byCarol.json()).toMatchObject({ code: "NOT_FOUND" });
      const asText = await upload(image, { ...asAlice, "content-type": "text/plain" });
      expect(asText.status).toBe(400);
      expect(await asText.json()).toMatchObject({ code: "BAD_REQUEST" });
      const notImage = await upload(Buffer.from("not an image"), { ...asAlice, "content-type": "image/png" });
      expect(notImage.status).toBe(400);
      expect(await notImage.json()).toMatchObject({ code: "BAD_REQUEST" });
      const tooLarge = await upload(Buffer.alloc(MAX_COVER_UPLOAD_BYTES + 1), {
        ...asAlice,
        "content-type": "image/png",
      });
      expect(tooLarge.status).toBe(413);
      expect(await tooLarge.json()).toMatchObject({ code: "FRAME_TOO_LARGE" });
      const badId = await fetch(`${server.url}/api/playlists/no%2Fway/cover`, {
        method: "DELETE",
        headers: asAlice,
      });
      expect(badId.status).toBe(400);
      expect(await badId.json()).toMatchObject({ code: "VALIDATION_FAILED" });
      // The cover is not available through the socket, where it would travel as text.
      alice.sendRaw(
        JSON.stringify({
          t: "req",
          id: 9_999,
          method: "playlist.setCover",
          params: { playlistId: created.playlist.id, image: null },
        }),
      );
      expect(await alice.waitFor((frame) => frame.t === "err" && frame.id === 9_999)).toMatchObject({
        code: "UNKNOWN_METHOD",
      });

      const removed = await fetch(coverUrl, { method: "DELETE", headers: asAlice });
      expect(await removed.json()).toMatchObject({ hasUploadedCover: false });
      // An empty playlist has no album art for a mosaic: no cover at all once the upload is gone.
      expect((await fetch(url, { headers: asAlice })).status).toBe(404);
    } finally {
      await alice.close();
    }
  });

  it("invites over playlists.mine: the playlist joins the invitee's list only once they accept, and no one else hears", async () => {
    const alice = new TestConnection();
    await alice.attach(await WsClient.connect(server.url, aliceToken));
    const carol = new TestConnection();
    await carol.attach(await WsClient.connect(server.url, carolToken));
    const bob = new TestConnection();
    await bob.attach(await WsClient.connect(server.url, bobToken));
    try {
      const carolPushes: PlaylistChange[] = [];
      const bobPushes: PlaylistChange[] = [];
      await carol.follow(pushTopics.myPlaylists, (change) => carolPushes.push(change));
      await bob.follow(pushTopics.myPlaylists, (change) => bobPushes.push(change));
      const created = await alice.call(playlistContract, "create", { name: "For carol" });
      const playlistId = created.playlist.id;
      await alice.call(playlistContract, "invite", { playlistId, userName: "carol" });
      await expect.poll(() => carolPushes.map((push) => push.playlistId)).toEqual([playlistId]);
      const invited = async () =>
        (await carol.call(playlistContract, "receivedInvitations")).map((entry) => entry.playlistId);
      const listed = async () => (await carol.call(playlistContract, "list")).map((entry) => entry.id);
      expect(await invited()).toEqual([playlistId]);
      expect(await listed()).not.toContain(playlistId);
      await carol.call(playlistContract, "acceptInvitation", { playlistId });
      await expect.poll(() => carolPushes).toHaveLength(2);
      expect(await listed()).toContain(playlistId);
      expect(await invited()).toEqual([]);
      // Bob follows a public playlist of his own choosing: his list changes, and only his.
      const open = await alice.call(playlistContract, "create", {
        name: "Open",
        isPublic: true,
      });
      await bob.call(playlistContract, "follow", { playlistId: open.playlist.id });
      await expect.poll(() => bobPushes.map((push) => push.playlistId)).toEqual([open.playlist.id]);
      expect(carolPushes).toHaveLength(2);
    } finally {
      await alice.client.close();
      await carol.client.close();
      await bob.client.close();
    }
  });

  it("lets a user block another over the WebSocket: nothing from them arrives, and they cannot tell", async () => {
    const alice = new TestConnection();
    await alice.attach(await WsClient.connect(server.url, aliceToken));
    const bob = new TestConnection();
    await bob.attach(await WsClient.connect(server.url, bobToken));
    try {
      const bobPushes: PlaylistChange[] = [];
      await bob.follow(pushTopics.myPlaylists, (change) => bobPushes.push(change));
      await bob.call(playlistContract, "block", { userName: "alice" });
      const blockedUsers = await bob.call(playlistContract, "blockedUsers");
      expect(blockedUsers).toEqual([
        { id: expect.any(String), name: "alice", blockedAt: expect.any(Number) },
      ]);
      const blocked = await alice.call(playlistContract, "create", { name: "Spam" });
      const toBob = await alice.call(playlistContract, "invite", {
        playlistId: blocked.playlist.id,
        userName: "bob",
      });
      expect(toBob).toMatchObject({ user: { id: bobId, name: "bob" } });
      expect(
        await alice.call(playlistContract, "sentInvitations", { playlistId: blocked.playlist.id }),
      ).toEqual([toBob]);
      // A push bob does get (his own follow) arrives after any the invitation could have caused: there were none.
      const open = await alice.call(playlistContract, "create", {
        name: "Open",
        isPublic: true,
      });
      await bob.call(playlistContract, "follow", { playlistId: open.playlist.id });
      await expect.poll(() => bobPushes.map((push) => push.playlistId)).toEqual([open.playlist.id]);
      expect(await bob.call(playlistContract, "receivedInvitations", {})).toEqual([]);
      const refused = await bob
        .call(playlistContract, "acceptInvitation", { playlistId: blocked.playlist.id })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "NOT_FOUND" });
      // Unblocked: to alice, the invitation ends as a declined one does.
      await bob.call(playlistContract, "unblock", { userId: blockedUsers[0]!.id });
      expect(
        await alice.call(playlistContract, "sentInvitations", { playlistId: blocked.playlist.id }),
      ).toEqual([]);
    } finally {
      await alice.client.close();
      await bob.client.close();
    }
  });

  it("keeps a private playlist's topic closed to others and stops pushing once access ends", async () => {
    const alice = new TestConnection();
    await alice.attach(await WsClient.connect(server.url, aliceToken));
    const carol = new TestConnection();
    await carol.attach(await WsClient.connect(server.url, carolToken));
    try {
      const created = await alice.call(playlistContract, "create", { name: "Secret" });
      const playlistId = created.playlist.id;
      const refused = await carol
        .follow(pushTopics.playlist(playlistId), () => undefined)
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "NOT_FOUND" });
      await expect(PlaylistSync.open(carol, playlistId)).rejects.toMatchObject({ code: "NOT_FOUND" });

      const aliceSync = await PlaylistSync.open(alice, playlistId);
      aliceSync.model.setPublic(true);
      await expect.poll(() => aliceSync.model.pending.length).toBe(0);
      const carolSync = await PlaylistSync.open(carol, playlistId);
      const pushes: number[] = [];
      carolSync.onChange((change) => pushes.push(change.revision));
      aliceSync.model.append(["track-x"]);
      await expect.poll(() => trackIdsOf(carolSync)).toEqual(["track-x"]);
      // Private again: the change that hides it, and everything after, no longer reaches carol.
      aliceSync.model.setPublic(false);
      aliceSync.model.append(["track-y"]);
      await expect.poll(() => aliceSync.model.pending.length).toBe(0);
      // Public once more: pushes arrive in order per socket, so seeing revision 5 proves 3 and 4 were never sent;
      // the gap makes carol's sync fetch them.
      aliceSync.model.setPublic(true);
      await expect.poll(() => pushes).toEqual([2, 5]);
      expect(carolSync.model.revision).toBeLessThanOrEqual(5);
      await expect.poll(() => trackIdsOf(carolSync)).toEqual(["track-x", "track-y"]);
      expect(carolSync.model.revision).toBe(5);
      aliceSync.close();
      carolSync.close();
    } finally {
      await alice.client.close();
      await carol.client.close();
    }
  });
});
