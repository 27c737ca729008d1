// The invitation and block part of the SQL store. Work that reads the invitation limits and then writes locks both
// users first (PostgreSQL advisory locks in a fixed order; SQLite's single connection runs one transaction at a time).
import { sql } from "@soundmesh/db";
import type { InvitationTransaction, PlaylistStore } from "./store";
import { invitationOf, type Executor, type PlaylistDb } from "./sql-tables";

type InvitationStore = Pick<
  PlaylistStore,
  | "inviting"
  | "invitation"
  | "invitationsOf"
  | "invitationsFor"
  | "deleteInvitation"
  | "acceptInvitation"
  | "deleteInvitationsOf"
  | "block"
  | "unblock"
  | "blockedBy"
>;

const countOf = (row: { n: string | number | bigint } | undefined) => Number(row?.n ?? 0);

function invitationRows(executor: Executor) {
  return executor.selectFrom("playlist_invitations").selectAll();
}

function invitationTransaction(trx: Executor): InvitationTransaction {
  const pending = () =>
    trx.selectFrom("playlist_invitations").select((eb) => eb.fn.countAll<number>().as("n"));
  return {
    async invitation(playlistId, inviteeId) {
      const row = await invitationRows(trx)
        .where("playlist_id", "=", playlistId)
        .where("invitee_id", "=", inviteeId)
        .executeTakeFirst();
      return row && invitationOf(row);
    },
    async sentAfter(inviterId, after) {
      const row = await trx
        .selectFrom("playlist_invitations_sent")
        .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.min("sent_at").as("oldest")])
        .where("inviter_id", "=", inviterId)
        .where("sent_at", ">", after)
        .executeTakeFirst();
      return { count: countOf(row), oldestAt: row?.oldest == null ? null : Number(row.oldest) };
    },
    async pendingFrom(inviterId) {
      return countOf(await pending().where("inviter_id", "=", inviterId).executeTakeFirst());
    },
    async pendingBetween(inviterId, inviteeId) {
      return countOf(
        await pending()
          .where("inviter_id", "=", inviterId)
          .where("invitee_id", "=", inviteeId)
          .executeTakeFirst(),
      );
    },
    async pendingVisibleTo(inviteeId) {
      return countOf(
        await pending().where("invitee_id", "=", inviteeId).where("is_hidden", "=", 0).executeTakeFirst(),
      );
    },
    async isBlocked(userId, blockedId) {
      const row = await trx
        .selectFrom("playlist_blocks")
        .select("user_id")
        .where("user_id", "=", userId)
        .where("blocked_id", "=", blockedId)
        .executeTakeFirst();
      return row !== undefined;
    },
    async insertInvitation(invitation) {
      await trx
        .insertInto("playlist_invitations")
        .values({
          playlist_id: invitation.playlistId,
          invitee_id: invitation.invitee.userId,
          invitee_name: invitation.invitee.name,
          inviter_id: invitation.inviter.userId,
          inviter_name: invitation.inviter.name,
          is_hidden: invitation.isHidden ? 1 : 0,
          invited_at: invitation.invitedAt,
        })
        .execute();
    },
    async recordSent(inviterId, at, forgetUntil) {
      await trx
        .deleteFrom("playlist_invitations_sent")
        .where("inviter_id", "=", inviterId)
        .where("sent_at", "<=", forgetUntil)
        .execute();
      await trx
        .insertInto("playlist_invitations_sent")
        .values({ inviter_id: inviterId, sent_at: at })
        .execute();
    },
  };
}

export function createSqlInvitationStore(
  kysely: PlaylistDb,
  dialect: "sqlite" | "postgres",
): InvitationStore {
  /** Locks the users' invitations for the transaction, in one order so two transactions cannot deadlock. */
  async function lockUsers(trx: Executor, userIds: readonly string[]): Promise<void> {
    if (dialect !== "postgres") return;
    for (const userId of [...new Set(userIds)].sort())
      await sql`select pg_advisory_xact_lock(hashtextextended(${`soundmesh.playlist.invitations:${userId}`}, 0))`.execute(
        trx,
      );
  }

  /** The invitations from `inviterId` to `inviteeId` with this visibility, read then rewritten by the caller. */
  const between = (trx: Executor, inviterId: string, inviteeId: string, isHidden: boolean) =>
    invitationRows(trx)
      .where("inviter_id", "=", inviterId)
      .where("invitee_id", "=", inviteeId)
      .where("is_hidden", "=", isHidden ? 1 : 0)
      .orderBy("invited_at")
      .orderBy("playlist_id")
      .execute();

  return {
    inviting(inviterId, inviteeId, work) {
      return kysely.transaction().execute(async (trx) => {
        await lockUsers(trx, [inviterId, inviteeId]);
        return work(invitationTransaction(trx));
      });
    },

    invitation: (playlistId, inviteeId) => invitationTransaction(kysely).invitation(playlistId, inviteeId),

    async invitationsOf(playlistId) {
      const rows = await invitationRows(kysely)
        .where("playlist_id", "=", playlistId)
        .orderBy("invited_at")
        .orderBy("invitee_id")
        .execute();
      return rows.map(invitationOf);
    },

    async invitationsFor(inviteeId, limit) {
      const rows = await kysely
        .selectFrom("playlist_invitations as i")
        .innerJoin("playlist_playlists as p", "p.id", "i.playlist_id")
        .selectAll("i")
        .select("p.name as playlist_name")
        .where("i.invitee_id", "=", inviteeId)
        .where("i.is_hidden", "=", 0)
        .where("p.deleted_at", "is", null)
        .orderBy("i.invited_at", "desc")
        .orderBy("i.playlist_id")
        .limit(limit)
        .execute();
      return rows.map((row) => ({ ...invitationOf(row), playlistName: row.playlist_name }));
    },

    deleteInvitation(playlistId, inviteeId) {
      return kysely.transaction().execute(async (trx) => {
        const found = await invitationTransaction(trx).invitation(playlistId, inviteeId);
        if (!found) return undefined;
        await trx
          .deleteFrom("playlist_invitations")
          .where("playlist_id", "=", playlistId)
          .where("invitee_id", "=", inviteeId)
          .execute();
        return found;
      });
    },

    acceptInvitation(playlistId, inviteeId, at) {
      return kysely.transaction().execute(async (trx) => {
        const found = await invitationTransaction(trx).invitation(playlistId, inviteeId);
        if (!found || found.isHidden) return false;
        await trx
          .deleteFrom("playlist_invitations")
          .where("playlist_id", "=", playlistId)
          .where("invitee_id", "=", inviteeId)
          .execute();
        await trx
          .insertInto("playlist_members")
          .values({
            playlist_id: playlistId,
            user_id: inviteeId,
            role: "collaborator",
            user_name: found.invitee.name,
            added_at: at,
          })
          .onConflict((conflict) => conflict.columns(["playlist_id", "user_id", "role"]).doNothing())
          .execute();
        return true;
      });
    },

    deleteInvitationsOf(playlistId) {
      return kysely.transaction().execute(async (trx) => {
        const rows = await invitationRows(trx).where("playlist_id", "=", playlistId).execute();
        await trx.deleteFrom("playlist_invitations").where("playlist_id", "=", playlistId).execute();
        return rows.map(invitationOf);
      });
    },

    block(userId, blocked, at) {
      return kysely.transaction().execute(async (trx) => {
        await lockUsers(trx, [userId, blocked.userId]);
        await trx
          .insertInto("playlist_blocks")
          .values({ user_id: userId, blocked_id: blocked.userId, blocked_name: blocked.name, blocked_at: at })
          .onConflict((conflict) => conflict.columns(["user_id", "blocked_id"]).doNothing())
          .execute();
        const hidden = await between(trx, blocked.userId, userId, false);
        await trx
          .updateTable("playlist_invitations")
          .set({ is_hidden: 1 })
          .where("inviter_id", "=", blocked.userId)
          .where("invitee_id", "=", userId)
          .execute();
        return hidden.map(invitationOf);
      });
    },

    unblock(userId, blockedId) {
      return kysely.transaction().execute(async (trx) => {
        await lockUsers(trx, [userId, blockedId]);
        const lifted = await trx
          .deleteFrom("playlist_blocks")
          .where("user_id", "=", userId)
          .where("blocked_id", "=", blockedId)
          .executeTakeFirst();
        if (Number(lifted.numDeletedRows) === 0) return undefined;
        const dropped = await between(trx, blockedId, userId, true);
        await trx
          .deleteFrom("playlist_invitations")
          .where("inviter_id", "=", blockedId)
          .where("invitee_id", "=", userId)
          .where("is_hidden", "=", 1)
          .execute();
        return dropped.map(invitationOf);
      });
    },

    async blockedBy(userId) {
      const rows = await kysely
        .selectFrom("playlist_blocks")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("blocked_at", "desc")
        .orderBy("blocked_id")
        .execute();
      return rows.map((row) => ({
        userId: row.blocked_id,
        name: row.blocked_name,
        blockedAt: Number(row.blocked_at),
      }));
    },
  };
}
