// Playlists on our revisioned playlists: every change an app makes is an ordinary edit (operations on the latest
// revision), so web players subscribed to the playlist get it pushed like any other edit.
import { randomBytes } from "node:crypto";
import {
  playlistContract,
  type PlaylistInfo,
  type PlaylistSnapshot,
  type SubmittedOperation,
  type TrackRecord,
} from "@soundmesh/protocol";
import { tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { idOfKind, playlistIdOf } from "../ids";
import { songsOf } from "../mapping";
import type { Body } from "../response";

const newId = () => randomBytes(12).toString("base64url");

function playlistOf(info: PlaylistInfo, durationMs?: number, songCount?: number): Body {
  return {
    id: playlistIdOf(info.id),
    name: info.name,
    comment: info.description,
    owner: info.ownerName,
    public: info.isPublic,
    songCount: songCount ?? info.itemCount,
    duration: Math.round((durationMs ?? 0) / 1000),
    created: new Date(info.createdAt).toISOString(),
    changed: new Date(info.updatedAt).toISOString(),
    coverArt: playlistIdOf(info.id),
    readonly: !info.access.canEdit,
    allowedUser: info.collaborators.map((member) => member.name),
  };
}

/** The playlist's items whose tracks the library has, in order: what getPlaylist lists and indexes refer to. */
async function availableEntries(context: MethodContext, snapshot: PlaylistSnapshot) {
  const tracks = new Map(
    (
      await tracksByIds(
        context,
        snapshot.items.map((item) => item.trackId),
      )
    ).map((track) => [track.id, track]),
  );
  return snapshot.items.flatMap((item) => {
    const track = tracks.get(item.trackId);
    return track ? [{ itemId: item.itemId, track }] : [];
  });
}

async function fullPlaylist(context: MethodContext, playlistId: string): Promise<Body> {
  const snapshot = await context.call(playlistContract, "get", { playlistId });
  const entries = await availableEntries(context, snapshot);
  const tracks: TrackRecord[] = entries.map((entry) => entry.track);
  const durationMs = tracks.reduce((sum, track) => sum + track.durationMs, 0);
  return {
    ...playlistOf(snapshot.playlist, durationMs, tracks.length),
    entry: await songsOf(context, tracks),
  };
}

function songIdsOf(context: MethodContext, name: string): string[] {
  return context.params.list(name).map((value) => idOfKind(value, "track").id);
}

async function edit(
  context: MethodContext,
  snapshot: PlaylistSnapshot,
  operations: SubmittedOperation["operation"][],
) {
  if (operations.length === 0) return;
  await context.call(playlistContract, "edit", {
    playlistId: snapshot.playlist.id,
    baseRevision: snapshot.playlist.revision,
    operations: operations.map((operation) => ({ opId: newId(), operation })),
  });
}

export const playlistMethods: MethodTable = {
  async getPlaylists(context) {
    const userName = context.params.optionalString("username", 64);
    if (userName !== undefined && userName.toLowerCase() !== context.identity.user.name.toLowerCase())
      throw new SubsonicError(50, "Only your own playlists are listed");
    const playlists = await context.call(playlistContract, "list", {});
    return { playlists: { playlist: playlists.map((info) => playlistOf(info)) } };
  },

  async getPlaylist(context) {
    const { id } = idOfKind(context.params.string("id", 100), "playlist");
    return { playlist: await fullPlaylist(context, id) };
  },

  async createPlaylist(context) {
    const { params } = context;
    const trackIds = songIdsOf(context, "songId");
    const existing = params.optionalString("playlistId", 100);
    if (existing !== undefined) {
      // With playlistId the playlist's songs are replaced, in one edit.
      const { id } = idOfKind(existing, "playlist");
      const snapshot = await context.call(playlistContract, "get", { playlistId: id });
      await tracksExist(context, trackIds);
      const operations: SubmittedOperation["operation"][] = [];
      if (snapshot.items.length > 0)
        operations.push({ type: "remove", itemIds: snapshot.items.map((i) => i.itemId) });
      if (trackIds.length > 0)
        operations.push({
          type: "insert",
          afterItemId: "end",
          items: trackIds.map((trackId) => ({ itemId: newId(), trackId })),
        });
      const name = params.optionalString("name", 200);
      if (name !== undefined && name.trim() !== "") operations.push({ type: "rename", name });
      await edit(context, snapshot, operations);
      return { playlist: await fullPlaylist(context, id) };
    }
    const name = params.string("name", 200);
    if (name.trim() === "") throw new SubsonicError(0, "Invalid parameter name: empty");
    await tracksExist(context, trackIds);
    const created = await context.call(playlistContract, "create", { name, trackIds });
    return { playlist: await fullPlaylist(context, created.playlist.id) };
  },

  async updatePlaylist(context) {
    const { params } = context;
    const { id } = idOfKind(params.string("playlistId", 100), "playlist");
    const name = params.optionalString("name", 200);
    const comment = params.optionalString("comment", 2_000);
    const isPublic = params.optionalBool("public");
    const toAdd = songIdsOf(context, "songIdToAdd");
    const toRemove = params.intList("songIndexToRemove", 0, 1_000_000);
    const snapshot = await context.call(playlistContract, "get", { playlistId: id });
    await tracksExist(context, toAdd);
    const operations: SubmittedOperation["operation"][] = [];
    if (name !== undefined && name.trim() !== "") operations.push({ type: "rename", name });
    if (comment !== undefined) operations.push({ type: "setDescription", description: comment });
    if (isPublic !== undefined) operations.push({ type: "setPublic", isPublic });
    if (toRemove.length > 0) {
      const entries = await availableEntries(context, snapshot);
      const itemIds = toRemove.map((index) => {
        const entry = entries[index];
        if (!entry) throw new SubsonicError(70, `No song at index ${index}`);
        return entry.itemId;
      });
      operations.push({ type: "remove", itemIds: [...new Set(itemIds)] });
    }
    if (toAdd.length > 0)
      operations.push({
        type: "insert",
        afterItemId: "end",
        items: toAdd.map((trackId) => ({ itemId: newId(), trackId })),
      });
    await edit(context, snapshot, operations);
    return {};
  },

  async deletePlaylist(context) {
    const { id } = idOfKind(context.params.string("id", 100), "playlist");
    await context.call(playlistContract, "delete", { playlistId: id });
    return {};
  },
};

/** Every song id names a track of the library: an unknown one is "not found", and nothing is changed. */
async function tracksExist(context: MethodContext, trackIds: readonly string[]): Promise<void> {
  const found = new Set((await tracksByIds(context, trackIds)).map((track) => track.id));
  const missing = trackIds.find((id) => !found.has(id));
  if (missing !== undefined) throw new SubsonicError(70, `Song not found: tr-${missing}`);
}
