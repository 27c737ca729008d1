// The playlist service's storage port: playlists, their items (tombstones included), revisions and members.
// The rules (permissions, rebasing) live in the service; edits run inside editPlaylist's locked transaction.
import type { ItemSnapshot, PlaylistItem, PlaylistRevision, SmartRules } from "@soundmesh/protocol";
import type { NewItemRow, OrderEntry } from "./order";

export interface StoredPlaylist {
  id: string;
  ownerId: string;
  /** As it was when they became the owner (names do not change). */
  ownerName: string;
  name: string;
  description: string;
  isPublic: boolean;
  isCollaborative: boolean;
  smartRules: SmartRules | null;
  hasUploadedCover: boolean;
  revision: number;
  itemCount: number;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
}

export interface PlaylistMember {
  userId: string;
  name: string;
}

export type MemberRole = "collaborator" | "follower";

/** Where an item stands in the list, removed or not. */
export interface StoredEntry {
  itemId: string;
  position: number;
  isLive: boolean;
}

export type PlaylistPatch = Partial<
  Pick<StoredPlaylist, "name" | "description" | "isPublic" | "isCollaborative" | "ownerId" | "smartRules">
> & { updatedAt: number; deletedAt?: number };

/** One edit's view of a playlist, inside a transaction that holds the playlist's row lock. */
export interface PlaylistTransaction {
  readonly playlist: StoredPlaylist;
  /** The revisions already made by these operations (a resubmission), by operation id. */
  revisionsOfOperations(opIds: readonly string[]): Promise<Map<string, PlaylistRevision>>;
  /** Every item's place, tombstones included: what a batch of operations is applied to, in memory. */
  loadOrder(): Promise<OrderEntry[]>;
  /** Writes a batch's changes (order.ts), each row once: new rows, then new positions, then removals. */
  /** New item rows, each with its track's snapshot when the service knows it already. */
  insertItems(items: ReadonlyArray<NewItemRow & { snapshot?: ItemSnapshot }>): Promise<void>;
  setPositions(positions: ReadonlyArray<{ itemId: string; position: number }>): Promise<void>;
  markRemoved(removals: ReadonlyArray<{ itemId: string; revision: number }>): Promise<void>;
  /** Records a batch's revisions, once all its operations applied (nothing in the batch reads them back). */
  insertRevisions(revisions: readonly PlaylistRevision[]): Promise<void>;
  /** Writes the playlist row once per transaction: its revision, item count and changed fields. */
  updatePlaylist(state: { revision: number; itemCount: number }, patch: PlaylistPatch): Promise<void>;
}

/** An invitation to collaborate, waiting for the invitee to accept or decline. */
export interface StoredInvitation {
  playlistId: string;
  invitee: PlaylistMember;
  inviter: PlaylistMember;
  /** Sent while the invitee blocks the inviter: only the inviter ever sees it. */
  isHidden: boolean;
  invitedAt: number;
}

export interface BlockedMember extends PlaylistMember {
  blockedAt: number;
}

/** Inside `inviting`: what the invitation limits read, under a lock that keeps it true until the commit. */
export interface InvitationTransaction {
  invitation(playlistId: string, inviteeId: string): Promise<StoredInvitation | undefined>;
  /** How many invitations the inviter sent after `after`, and when the oldest of those was. */
  sentAfter(inviterId: string, after: number): Promise<{ count: number; oldestAt: number | null }>;
  /** Waiting invitations on live playlists: from the inviter; from the inviter to the invitee; visible to the invitee. */
  pendingFrom(inviterId: string): Promise<number>;
  pendingBetween(inviterId: string, inviteeId: string): Promise<number>;
  pendingVisibleTo(inviteeId: string): Promise<number>;
  isBlocked(userId: string, blockedId: string): Promise<boolean>;
  insertInvitation(invitation: StoredInvitation): Promise<void>;
  /** Counts one sent invitation (cancelling it does not give it back) and forgets those sent up to `forgetUntil`. */
  recordSent(inviterId: string, at: number, forgetUntil: number): Promise<void>;
}

/** A live playlist with what search needs beyond its row: who may find it and how many follow it. */
export interface SearchablePlaylist {
  playlist: StoredPlaylist;
  collaboratorIds: string[];
  followerCount: number;
}

/** A page of live playlists in id order after `afterId` (null: from the start), or just the given ids. */
export type SearchableQuery = { afterId: string | null; limit: number } | { ids: readonly string[] };

export interface PlaylistStore {
  insertPlaylist(playlist: StoredPlaylist): Promise<void>;
  findPlaylist(id: string): Promise<StoredPlaylist | undefined>;
  /** Runs `work` in one transaction with the playlist locked (revisions strictly sequential); undefined when absent. */
  editPlaylist<T>(id: string, work: (tx: PlaylistTransaction) => Promise<T>): Promise<T | undefined>;
  updatePlaylist(id: string, patch: PlaylistPatch): Promise<void>;
  liveItems(id: string): Promise<PlaylistItem[]>;
  /** The playlist and its live items as of one revision (one consistent read). */
  readSnapshot(id: string): Promise<{ playlist: StoredPlaylist; items: PlaylistItem[] } | undefined>;
  revisionsAfter(id: string, revision: number, limit: number): Promise<PlaylistRevision[]>;
  members(id: string, role: MemberRole): Promise<PlaylistMember[]>;
  followerCount(id: string): Promise<number>;
  isMember(id: string, role: MemberRole, userId: string): Promise<boolean>;
  addMember(id: string, role: MemberRole, member: PlaylistMember, at: number): Promise<void>;
  removeMember(id: string, role: MemberRole, userId: string): Promise<boolean>;
  /** Makes `newOwner` the owner and the old owner a collaborator, in one transaction. */
  transferOwner(id: string, newOwner: PlaylistMember, at: number): Promise<void>;
  /** Playlists the user owns, collaborates on or follows, deleted ones left out, most recently updated first. */
  playlistsOf(userId: string): Promise<StoredPlaylist[]>;
  smartPlaylists(): Promise<StoredPlaylist[]>;
  /** Live playlists (deleted ones left out) for the search index, in id order, in one consistent read. */
  searchablePlaylists(query: SearchableQuery): Promise<SearchablePlaylist[]>;
  /** Runs `work` in one transaction that no other invitation or block between these two users interleaves with. */
  inviting<T>(
    inviterId: string,
    inviteeId: string,
    work: (tx: InvitationTransaction) => Promise<T>,
  ): Promise<T>;
  invitation(playlistId: string, inviteeId: string): Promise<StoredInvitation | undefined>;
  /** A playlist's waiting invitations, hidden ones included, oldest first. */
  invitationsOf(playlistId: string): Promise<StoredInvitation[]>;
  /** The invitations the user may see, on live playlists, newest first. */
  invitationsFor(
    inviteeId: string,
    limit: number,
  ): Promise<Array<StoredInvitation & { playlistName: string }>>;
  /** Deletes the invitation and answers it; undefined when none waited. */
  deleteInvitation(playlistId: string, inviteeId: string): Promise<StoredInvitation | undefined>;
  /** Deletes a visible invitation and makes the invitee a collaborator, in one transaction; false when none waited. */
  acceptInvitation(playlistId: string, inviteeId: string, at: number): Promise<boolean>;
  /** Deletes every waiting invitation of the playlist (deleted or handed over) and answers them. */
  deleteInvitationsOf(playlistId: string): Promise<StoredInvitation[]>;
  /** Blocks `blocked` for `userId` and hides their waiting invitations to `userId`, answering those. */
  block(userId: string, blocked: PlaylistMember, at: number): Promise<StoredInvitation[]>;
  /** Lifts the block and drops the invitations it hid, answering those; undefined when there was no block. */
  unblock(userId: string, blockedId: string): Promise<StoredInvitation[] | undefined>;
  /** Whom the user blocks, most recent first. */
  blockedBy(userId: string): Promise<BlockedMember[]>;
  /** Stores (or with null removes) the uploaded cover and marks the playlist updated. */
  setCover(id: string, jpeg: Uint8Array | null, at: number): Promise<void>;
  cover(id: string): Promise<Uint8Array | undefined>;
}
