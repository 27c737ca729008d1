// Pushes across access points: two access points on one nats-server, each its own NATS connection; a session client
// on one sees playlist edits made through the other (playlist.changed fans out to every access point over NATS), and
// a playlist's topic stays closed to those who may not see it, whichever access point they are on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { playlistContract, pushTopics, userContract, type PlaylistChange } from "@soundmesh/protocol";
import { newRandomId } from "@soundmesh/playlist-model";
import { WsClient, login, setupAdmin, shouldRunNatsTests } from "@soundmesh/test-kit";
import { startAccessPointsOnNats, type AccessPointsOnNats } from "@soundmesh/test-kit/server";

describe.skipIf(!shouldRunNatsTests())("pushes across access points", () => {
  let cluster: AccessPointsOnNats;
  let onA: string;
  let onB: string;
  let aliceToken: string;
  let bobToken: string;
  const clients: WsClient[] = [];
  const connect = async (url: string, token: string) => {
    const client = await WsClient.connect(url, token);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    cluster = await startAccessPointsOnNats(2);
    [onA, onB] = cluster.urls as [string, string];
    aliceToken = await setupAdmin(onA, "alice", "alice password");
    const admin = await connect(onA, aliceToken);
    await admin.call(userContract, "createUser", { name: "bob", password: "bob password" });
    // Bob signs in through the other access point: sessions live in the user service, not in an access point.
    bobToken = await login(onB, "bob", "bob password");
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await cluster?.stop();
  });

  it("an edit made through access point B is pushed to a client on access point A", async () => {
    const aliceOnA = await connect(onA, aliceToken);
    const aliceOnB = await connect(onB, aliceToken);
    const { playlist } = await aliceOnA.call(playlistContract, "create", {
      name: "Across",
      trackIds: ["t1"],
    });
    const pushes: PlaylistChange[] = [];
    await aliceOnA.follow(pushTopics.playlist(playlist.id), (change) => pushes.push(change));
    const opId = newRandomId();
    const { revision } = await aliceOnB.call(playlistContract, "edit", {
      playlistId: playlist.id,
      baseRevision: playlist.revision,
      operations: [
        {
          opId,
          operation: {
            type: "insert",
            afterItemId: "end",
            items: [{ itemId: newRandomId(), trackId: "t2" }],
          },
        },
      ],
    });
    await expect
      .poll(() => pushes.flatMap((change) => change.revisions.map((r) => r.revision)))
      .toContain(revision);
    expect(pushes.flatMap((change) => change.revisions)).toContainEqual(expect.objectContaining({ opId }));
  });

  it("a collaborator's edit on A reaches the owner on B, and the owner's list push follows across too", async () => {
    const aliceOnB = await connect(onB, aliceToken);
    const bobOnA = await connect(onA, bobToken);
    const mine: PlaylistChange[] = [];
    await bobOnA.follow(pushTopics.myPlaylists, (change) => mine.push(change));
    const { playlist } = await aliceOnB.call(playlistContract, "create", {
      name: "Shared",
      isCollaborative: true,
    });
    await aliceOnB.call(playlistContract, "invite", { playlistId: playlist.id, userName: "bob" });
    // The invitation changed Bob's list: pushed to him on A although it was made on B.
    await expect.poll(() => mine.some((change) => change.playlistId === playlist.id)).toBe(true);
    await bobOnA.call(playlistContract, "acceptInvitation", { playlistId: playlist.id });
    const seenByAlice: PlaylistChange[] = [];
    await aliceOnB.follow(pushTopics.playlist(playlist.id), (change) => seenByAlice.push(change));
    const opId = newRandomId();
    await bobOnA.call(playlistContract, "edit", {
      playlistId: playlist.id,
      baseRevision: 0,
      operations: [
        {
          opId,
          operation: {
            type: "insert",
            afterItemId: "end",
            items: [{ itemId: newRandomId(), trackId: "t9" }],
          },
        },
      ],
    });
    await expect
      .poll(() => seenByAlice.flatMap((change) => change.revisions.map((r) => r.opId)))
      .toContain(opId);
  });

  it("a private playlist's topic is refused on either access point to a user who may not see it", async () => {
    const aliceOnA = await connect(onA, aliceToken);
    const { playlist } = await aliceOnA.call(playlistContract, "create", { name: "Private" });
    for (const url of [onA, onB]) {
      const bob = await connect(url, bobToken);
      await expect(bob.follow(pushTopics.playlist(playlist.id), () => undefined)).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
    }
  });
});
