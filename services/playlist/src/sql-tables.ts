// The playlist service's tables as Kysely sees them, and the mappings between rows and stored records.
import type { Kysely, Transaction } from "@soundmesh/db";
import { playlistOperation, smartRules, type PlaylistItem, type PlaylistRevision } from "@soundmesh/protocol";
import type { MemberRole, PlaylistPatch, StoredInvitation, StoredPlaylist } from "./store";

export interface PlaylistTables {
  playlist_playlists: {
    id: string;
    owner_id: string;
    owner_name: string;
    name: string;
    description: string;
    is_public: number;
    is_collaborative: number;
    smart_rules: string | null;
    has_cover: number;
    revision: number;
    item_count: number;
    created_at: number;
    updated_at: number;
    deleted_at: number | null;
  };
  playlist_items: {
    playlist_id: string;
    item_id: string;
    track_id: string;
    added_by: string;
    added_at: number;
    position: number;
    removed_revision: number | null;
    /** What the track was when the item was added (005-item-snapshots); null until filled. */
    snapshot_title: string | null;
    snapshot_artist: string | null;
    snapshot_album: string | null;
    snapshot_duration_ms: number | null;
  };
  playlist_revisions: {
    playlist_id: string;
    revision: number;
    op_id: string;
    author: string;
    at: number;
    operation: string;
  };
  playlist_covers: { playlist_id: string; image: string; updated_at: number };
  playlist_members: {
    playlist_id: string;
    user_id: string;
    role: MemberRole;
    user_name: string;
    added_at: number;
  };
  playlist_invitations: {
    playlist_id: string;
    invitee_id: string;
    invitee_name: string;
    inviter_id: string;
    inviter_name: string;
    is_hidden: number;
    invited_at: number;
  };
  playlist_invitations_sent: { inviter_id: string; sent_at: number };
  playlist_blocks: { user_id: string; blocked_id: string; blocked_name: string; blocked_at: number };
}

export type PlaylistDb = Kysely<PlaylistTables>;
export type Executor = PlaylistDb | Transaction<PlaylistTables>;
export type PlaylistRow = PlaylistTables["playlist_playlists"];

export function playlistOf(row: PlaylistRow): StoredPlaylist {
  return {
    id: row.id,
    ownerId: row.owner_id,
    ownerName: row.owner_name,
    name: row.name,
    description: row.description,
    isPublic: Number(row.is_public) !== 0,
    isCollaborative: Number(row.is_collaborative) !== 0,
    smartRules: row.smart_rules === null ? null : smartRules.parse(JSON.parse(row.smart_rules)),
    hasUploadedCover: Number(row.has_cover) !== 0,
    revision: Number(row.revision),
    itemCount: Number(row.item_count),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
  };
}

export function patchRowOf(patch: PlaylistPatch): Partial<PlaylistRow> {
  const row: Partial<PlaylistRow> = { updated_at: patch.updatedAt };
  if (patch.name !== undefined) row.name = patch.name;
  if (patch.description !== undefined) row.description = patch.description;
  if (patch.isPublic !== undefined) row.is_public = patch.isPublic ? 1 : 0;
  if (patch.isCollaborative !== undefined) row.is_collaborative = patch.isCollaborative ? 1 : 0;
  if (patch.ownerId !== undefined) row.owner_id = patch.ownerId;
  if (patch.smartRules !== undefined)
    row.smart_rules = patch.smartRules === null ? null : JSON.stringify(patch.smartRules);
  if (patch.deletedAt !== undefined) row.deleted_at = patch.deletedAt;
  return row;
}

export function invitationOf(row: PlaylistTables["playlist_invitations"]): StoredInvitation {
  return {
    playlistId: row.playlist_id,
    invitee: { userId: row.invitee_id, name: row.invitee_name },
    inviter: { userId: row.inviter_id, name: row.inviter_name },
    isHidden: Number(row.is_hidden) !== 0,
    invitedAt: Number(row.invited_at),
  };
}

export function revisionOf(row: PlaylistTables["playlist_revisions"]): PlaylistRevision {
  return {
    revision: Number(row.revision),
    opId: row.op_id,
    author: row.author,
    at: Number(row.at),
    operation: playlistOperation.parse(JSON.parse(row.operation)),
  };
}

/** Keeps `in (…)` lists well under both dialects' bound-parameter limits. */
export function chunks<T>(items: readonly T[], size = 500): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

export async function liveItemsIn(executor: Executor, id: string): Promise<PlaylistItem[]> {
  const rows = await executor
    .selectFrom("playlist_items")
    .select(["item_id", "track_id", "added_by", "added_at"])
    .where("playlist_id", "=", id)
    .where("removed_revision", "is", null)
    .orderBy("position")
    .orderBy("item_id")
    .execute();
  return rows.map((row): PlaylistItem => ({
    itemId: row.item_id,
    trackId: row.track_id,
    addedBy: row.added_by,
    addedAt: Number(row.added_at),
  }));
}
