// Collaboration by invitation: the owner invites, the invitee accepts or declines, within limits per inviter and per
// invitee; and blocks, which keep a user's invitations from the blocker without ever telling that user.
import {
  AppError,
  INVITATIONS_PER_HOUR,
  MAX_BLOCKED_USERS,
  MAX_PENDING_INVITATIONS_BETWEEN,
  MAX_PENDING_RECEIVED_INVITATIONS,
  MAX_PENDING_SENT_INVITATIONS,
  type HandlersOf,
  type PlaylistContract,
  type PlaylistRevision,
  type SentInvitation,
} from "@soundmesh/protocol";
import { requireUser, type createPlaylistAccess } from "./playlist-access";
import type {
  InvitationTransaction,
  PlaylistMember,
  PlaylistStore,
  StoredInvitation,
  StoredPlaylist,
} from "./store";

const HOUR_MS = 3_600_000;

type InvitationHandlers = Pick<
  HandlersOf<PlaylistContract>,
  | "invite"
  | "sentInvitations"
  | "cancelInvitation"
  | "receivedInvitations"
  | "acceptInvitation"
  | "declineInvitation"
  | "block"
  | "unblock"
  | "blockedUsers"
>;

export interface InvitationDeps {
  store: PlaylistStore;
  clock: { now(): number };
  access: ReturnType<typeof createPlaylistAccess>;
  /** The user with this name, from the user service. */
  findUser: (name: string, traceId: string) => Promise<PlaylistMember | undefined>;
  announce: (
    playlist: StoredPlaylist,
    change: { revisions: PlaylistRevision[]; membersChanged?: boolean; listsChanged?: string[] },
    traceId?: string,
  ) => Promise<void>;
}

const ok = { ok: true as const };

const sentOf = (invitation: StoredInvitation): SentInvitation => ({
  playlistId: invitation.playlistId,
  user: { id: invitation.invitee.userId, name: invitation.invitee.name },
  invitedAt: invitation.invitedAt,
});

/** Who hears of a change to these invitations on `playlists.mine`: the invitees who could see them. */
export const inviteesOf = (invitations: readonly StoredInvitation[]) =>
  invitations.filter((invitation) => !invitation.isHidden).map((invitation) => invitation.invitee.userId);

/**
 * Refuses an invitation over the limits. None of these depends on whether the invitee blocks the inviter: the
 * invitee's count is of the invitations they can see, whoever sent them.
 */
async function checkLimits(
  tx: InvitationTransaction,
  inviterId: string,
  invitee: PlaylistMember,
  now: number,
): Promise<void> {
  const sent = await tx.sentAfter(inviterId, now - HOUR_MS);
  if (sent.count >= INVITATIONS_PER_HOUR)
    throw new AppError("RATE_LIMITED", `At most ${INVITATIONS_PER_HOUR} invitations an hour`, {
      details: { retryAfterMs: Math.max(0, (sent.oldestAt ?? now) + HOUR_MS - now) },
    });
  if ((await tx.pendingFrom(inviterId)) >= MAX_PENDING_SENT_INVITATIONS)
    throw new AppError(
      "RATE_LIMITED",
      `At most ${MAX_PENDING_SENT_INVITATIONS} of your invitations may wait for an answer: cancel some first`,
    );
  if ((await tx.pendingBetween(inviterId, invitee.userId)) >= MAX_PENDING_INVITATIONS_BETWEEN)
    throw new AppError(
      "RATE_LIMITED",
      `${invitee.name} has ${MAX_PENDING_INVITATIONS_BETWEEN} of your invitations waiting already`,
    );
  if ((await tx.pendingVisibleTo(invitee.userId)) >= MAX_PENDING_RECEIVED_INVITATIONS)
    throw new AppError("RATE_LIMITED", `${invitee.name} has too many invitations waiting; try again later`);
}

export function createInvitations({
  store,
  clock,
  access,
  findUser,
  announce,
}: InvitationDeps): InvitationHandlers {
  /** The playlist and its waiting invitation to the caller, if they may see it (never a hidden one). */
  async function invitationTo(playlistId: string, userId: string) {
    const invitation = await store.invitation(playlistId, userId);
    const playlist = invitation && !invitation.isHidden ? await store.findPlaylist(playlistId) : undefined;
    if (!playlist || playlist.deletedAt !== null)
      throw new AppError("NOT_FOUND", "No invitation to this playlist is waiting");
    return { playlist, invitation: invitation! };
  }

  async function userNamed(userName: string, traceId: string): Promise<PlaylistMember> {
    const found = await findUser(userName, traceId);
    if (!found) throw new AppError("NOT_FOUND", `No user named ${userName}`);
    return found;
  }

  return {
    async invite({ playlistId, userName }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await access.owned(playlistId, userId);
      const invitee = await userNamed(userName, ctx.traceId);
      if (invitee.userId === playlist.ownerId) throw new AppError("BAD_REQUEST", "The owner edits already");
      if (await store.isMember(playlistId, "collaborator", invitee.userId))
        throw new AppError("ALREADY_EXISTS", `${invitee.name} already collaborates on this playlist`);
      const now = clock.now();
      const outcome = await store.inviting(userId, invitee.userId, async (tx) => {
        const waiting = await tx.invitation(playlistId, invitee.userId);
        if (waiting) return { invitation: waiting, isNew: false };
        await checkLimits(tx, userId, invitee, now);
        const invitation: StoredInvitation = {
          playlistId,
          invitee,
          inviter: { userId, name: playlist.ownerName },
          // Blocked: stored like any other, so the inviter sees it waiting, but never shown to the invitee.
          isHidden: await tx.isBlocked(invitee.userId, userId),
          invitedAt: now,
        };
        await tx.insertInvitation(invitation);
        await tx.recordSent(userId, now, now - HOUR_MS);
        return { invitation, isNew: true };
      });
      if (outcome.isNew)
        await announce(
          playlist,
          { revisions: [], membersChanged: true, listsChanged: inviteesOf([outcome.invitation]) },
          ctx.traceId,
        );
      return sentOf(outcome.invitation);
    },

    async sentInvitations({ playlistId }, ctx) {
      await access.owned(playlistId, requireUser(ctx));
      return (await store.invitationsOf(playlistId)).map(sentOf);
    },

    async cancelInvitation({ playlistId, userId: inviteeId }, ctx) {
      const { playlist } = await access.owned(playlistId, requireUser(ctx));
      const cancelled = await store.deleteInvitation(playlistId, inviteeId);
      if (!cancelled) throw new AppError("NOT_FOUND", "No invitation to this user is waiting");
      await announce(
        playlist,
        { revisions: [], membersChanged: true, listsChanged: inviteesOf([cancelled]) },
        ctx.traceId,
      );
      return ok;
    },

    async receivedInvitations(_params, ctx) {
      const found = await store.invitationsFor(requireUser(ctx), MAX_PENDING_RECEIVED_INVITATIONS);
      return found.map((invitation) => ({
        playlistId: invitation.playlistId,
        playlistName: invitation.playlistName,
        from: { id: invitation.inviter.userId, name: invitation.inviter.name },
        invitedAt: invitation.invitedAt,
      }));
    },

    async acceptInvitation({ playlistId }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await invitationTo(playlistId, userId);
      if (!(await store.acceptInvitation(playlistId, userId, clock.now())))
        throw new AppError("NOT_FOUND", "No invitation to this playlist is waiting");
      await announce(playlist, { revisions: [], membersChanged: true, listsChanged: [userId] }, ctx.traceId);
      return access.infoOf(playlist, userId);
    },

    async declineInvitation({ playlistId }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await invitationTo(playlistId, userId);
      if (await store.deleteInvitation(playlistId, userId))
        await announce(
          playlist,
          { revisions: [], membersChanged: true, listsChanged: [userId] },
          ctx.traceId,
        );
      return ok;
    },

    async block({ userName }, ctx) {
      const userId = requireUser(ctx);
      const blocked = await userNamed(userName, ctx.traceId);
      if (blocked.userId === userId) throw new AppError("BAD_REQUEST", "You cannot block yourself");
      const already = await store.blockedBy(userId);
      if (already.length >= MAX_BLOCKED_USERS && !already.some((member) => member.userId === blocked.userId))
        throw new AppError("BAD_REQUEST", `At most ${MAX_BLOCKED_USERS} users may be blocked`);
      const hidden = await store.block(userId, blocked, clock.now());
      // Only the blocker's list changes: to the blocked user, their invitations still wait.
      const first = hidden[0] && (await store.findPlaylist(hidden[0].playlistId));
      if (first) await announce(first, { revisions: [], listsChanged: [userId] }, ctx.traceId);
      return ok;
    },

    async unblock({ userId: blockedId }, ctx) {
      const userId = requireUser(ctx);
      const dropped = await store.unblock(userId, blockedId);
      if (!dropped) throw new AppError("NOT_FOUND", "You do not block this user");
      // The invitations sent meanwhile end as declined ones do: their owners see them go.
      for (const invitation of dropped) {
        const playlist = await store.findPlaylist(invitation.playlistId);
        if (playlist) await announce(playlist, { revisions: [], membersChanged: true }, ctx.traceId);
      }
      return ok;
    },

    async blockedUsers(_params, ctx) {
      const blocked = await store.blockedBy(requireUser(ctx));
      return blocked.map((member) => ({ id: member.userId, name: member.name, blockedAt: member.blockedAt }));
    },
  };
}
