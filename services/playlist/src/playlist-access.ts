// Who may see and edit a playlist, and the playlist as a given user sees it (their role, what they may do).
import {
  AppError,
  type CallContext,
  type PlaylistInfo,
  type PlaylistRole,
  type PlaylistSearchDocument,
  type PlaylistSnapshot,
} from "@soundmesh/protocol";
import type {
  PlaylistMember,
  PlaylistStore,
  SearchablePlaylist,
  SearchableQuery,
  StoredPlaylist,
} from "./store";

export interface Access {
  role: PlaylistRole;
  canView: boolean;
  canEdit: boolean;
  collaborators: PlaylistMember[];
}

export function requireUser(ctx: CallContext): string {
  if (ctx.userId === undefined) throw new AppError("UNAUTHENTICATED", "Playlists need a signed-in user");
  return ctx.userId;
}

/** The playlist as search indexes it: findable by everyone when public, else by its owner and collaborators only. */
export function searchDocumentOf({
  playlist,
  collaboratorIds,
  followerCount,
}: SearchablePlaylist): PlaylistSearchDocument {
  return {
    id: playlist.id,
    name: playlist.name,
    description: playlist.description,
    ownerName: playlist.ownerName,
    itemCount: playlist.itemCount,
    followers: followerCount,
    audience: playlist.isPublic ? null : [...new Set([playlist.ownerId, ...collaboratorIds])],
  };
}

/** A page of search documents; the next page starts after the last id of a full one. */
export async function searchDocumentsIn(
  store: PlaylistStore,
  query: SearchableQuery,
): Promise<{ documents: PlaylistSearchDocument[]; nextCursor: string | null }> {
  const found = await store.searchablePlaylists(query);
  const isFullPage = "limit" in query && found.length === query.limit;
  return {
    documents: found.map(searchDocumentOf),
    nextCursor: isFullPage ? (found.at(-1)?.playlist.id ?? null) : null,
  };
}

export function createPlaylistAccess(store: PlaylistStore) {
  async function accessOf(playlist: StoredPlaylist, userId: string): Promise<Access> {
    const collaborators = await store.members(playlist.id, "collaborator");
    const isOwner = playlist.ownerId === userId;
    const isCollaborator = collaborators.some((member) => member.userId === userId);
    const role: PlaylistRole = isOwner ? "owner" : isCollaborator ? "collaborator" : "viewer";
    return {
      role,
      canView: isOwner || isCollaborator || playlist.isPublic,
      canEdit: isOwner || (isCollaborator && playlist.isCollaborative),
      collaborators,
    };
  }

  /** The playlist if the user may see it: NOT_FOUND for private ones of others, GONE once deleted. */
  async function visible(playlistId: string, userId: string, allowDeleted = false) {
    const playlist = await store.findPlaylist(playlistId);
    if (!playlist) throw new AppError("NOT_FOUND", "No such playlist");
    const access = await accessOf(playlist, userId);
    const wasFollowing = await store.isMember(playlistId, "follower", userId);
    if (!access.canView && !(playlist.deletedAt !== null && wasFollowing))
      throw new AppError("NOT_FOUND", "No such playlist");
    if (playlist.deletedAt !== null && !allowDeleted) throw new AppError("GONE", "The playlist was deleted");
    return { playlist, access };
  }

  async function owned(playlistId: string, userId: string) {
    const found = await visible(playlistId, userId);
    if (found.access.role !== "owner")
      throw new AppError("FORBIDDEN", "Only the playlist's owner may do this");
    return found;
  }

  async function infoOf(playlist: StoredPlaylist, userId: string, access?: Access): Promise<PlaylistInfo> {
    const resolved = access ?? (await accessOf(playlist, userId));
    const isFollowing = await store.isMember(playlist.id, "follower", userId);
    const role = resolved.role === "viewer" && isFollowing ? "follower" : resolved.role;
    return {
      id: playlist.id,
      ownerId: playlist.ownerId,
      ownerName: playlist.ownerName,
      name: playlist.name,
      description: playlist.description,
      isPublic: playlist.isPublic,
      isCollaborative: playlist.isCollaborative,
      collaborators: resolved.collaborators.map((member) => ({ id: member.userId, name: member.name })),
      followerCount: await store.followerCount(playlist.id),
      revision: playlist.revision,
      itemCount: playlist.itemCount,
      hasUploadedCover: playlist.hasUploadedCover,
      smartRules: playlist.smartRules,
      createdAt: playlist.createdAt,
      updatedAt: playlist.updatedAt,
      access: { role, canEdit: resolved.canEdit && playlist.smartRules === null, isFollowing },
    };
  }

  async function snapshotOf(playlistId: string, userId: string): Promise<PlaylistSnapshot> {
    const { access } = await visible(playlistId, userId);
    const read = await store.readSnapshot(playlistId);
    if (!read) throw new AppError("NOT_FOUND", "No such playlist");
    return { playlist: await infoOf(read.playlist, userId, access), items: read.items };
  }

  return { accessOf, visible, owned, infoOf, snapshotOf };
}
