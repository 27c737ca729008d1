// The playlist service: serves playlistContract on the bus — revisioned edits rebased onto the latest revision,
// members (by invitation, invitations.ts) and permissions, catch-up for clients that were away, pushes on every change.
import type { Logger } from "pino";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import {
  AppError,
  MAX_CATCH_UP_REVISIONS,
  catalogChangedEvent,
  listeningChangedEvent,
  playlistChangedEvent,
  playlistContract,
  userContract,
  type HandlersOf,
  type PlaylistContract,
  type PlaylistRevision,
  type SubmittedOperation,
} from "@soundmesh/protocol";
import { createEditCommitter, type EditResult, type Editor } from "./commit-edits";
import { createCovers, defaultCoverLimits, type CoverLimits } from "./covers";
import { createPlaylistAccess, requireUser, searchDocumentsIn } from "./playlist-access";
import { createPlaylistFiles } from "./playlist-files";
import { createInvitations, inviteesOf } from "./invitations";
import { createItemSnapshots, type ItemSnapshotStore } from "./item-snapshots";
import { createSmartPlaylists } from "./smart-playlists";
import type { PlaylistStore, StoredPlaylist } from "./store";

export const playlistManifest = {
  service: "playlist",
  calls: ["catalog", "user", "events"],
  publishes: ["playlist.changed"],
  subscribes: ["catalog.changed", "events.listeningChanged"],
} as const satisfies ServiceManifest;

export interface PlaylistServiceDeps {
  logger: Logger;
  /** Already connected with playlistManifest. */
  bus: ServiceBus;
  store: PlaylistStore;
  clock: { now(): number };
  /** Random ids for playlists and system operations. */
  newId: () => string;
  /** Uploaded covers over the pixel cap are refused; cover images are decoded a few at a time. */
  coverLimits?: Partial<CoverLimits>;
  /** Where items keep what their track was when added; without it unavailable items show no title. */
  snapshots?: ItemSnapshotStore;
}

export interface PlaylistService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<PlaylistContract>;
  /** Recomputes every smart playlist from the catalog (runs after each catalog change while started). */
  refreshSmartPlaylists(): Promise<void>;
}

const ok = { ok: true as const };

export function createPlaylistService({
  logger,
  bus,
  store,
  clock,
  newId,
  coverLimits,
  snapshots,
}: PlaylistServiceDeps): PlaylistService {
  const itemSnapshots = snapshots && createItemSnapshots({ store: snapshots, bus, logger });
  const playlistAccess = createPlaylistAccess(store);
  const { accessOf, visible, owned, infoOf, snapshotOf } = playlistAccess;

  async function announce(
    playlist: StoredPlaylist,
    change: {
      revisions: PlaylistRevision[];
      membersChanged?: boolean;
      deleted?: boolean;
      /** Users who just lost access and should hear so. */
      alsoTell?: string[];
      /** Users whose list of playlists this changes. */
      listsChanged?: string[];
    },
    traceId?: string,
  ): Promise<void> {
    try {
      const collaborators = await store.members(playlist.id, "collaborator");
      const audience = new Set([
        playlist.ownerId,
        ...collaborators.map((member) => member.userId),
        ...(change.alsoTell ?? []),
      ]);
      if (change.deleted)
        for (const follower of await store.members(playlist.id, "follower")) audience.add(follower.userId);
      await bus.publish(
        playlistChangedEvent,
        {
          playlistId: playlist.id,
          revision: playlist.revision,
          revisions: change.revisions,
          membersChanged: change.membersChanged ?? false,
          deleted: change.deleted ?? false,
          audience: playlist.isPublic ? null : [...audience],
          listsChanged: change.deleted ? [...audience] : (change.listsChanged ?? []),
        },
        traceId === undefined ? {} : { traceId },
      );
    } catch (error) {
      // The change is committed; clients that miss the push catch up with changesSince.
      logger.error({ err: error, playlistId: playlist.id, traceId }, "could not announce a playlist change");
    }
  }

  /** Only these users' lists changed (a playlist made, followed or unfollowed): nothing for the playlist's topic. */
  async function announceListChange(playlistId: string, userIds: string[], traceId?: string): Promise<void> {
    const playlist = await store.findPlaylist(playlistId);
    if (playlist) await announce(playlist, { revisions: [], listsChanged: userIds }, traceId);
  }

  const committer = createEditCommitter({
    store,
    clock,
    announce: (playlist, revisions, traceId) => announce(playlist, { revisions }, traceId),
    ...(itemSnapshots ? { snapshotOf: (trackId: string) => itemSnapshots.known(trackId) } : {}),
  });

  /** Applies operations as consecutive revisions; resubmitted ones answer with their first revision. */
  function commit(
    playlistId: string,
    editor: Editor,
    baseRevision: number | null,
    operations: readonly SubmittedOperation[],
    traceId?: string,
  ): Promise<Omit<EditResult, "withoutSnapshot">> {
    const committed = committer.submit(playlistId, {
      editor,
      baseRevision,
      operations,
      ...(traceId === undefined ? {} : { traceId }),
    });
    const inserted = operations.flatMap(({ operation }) =>
      operation.type === "insert"
        ? operation.items.map(({ itemId, trackId }) => ({ playlistId, itemId, trackId }))
        : [],
    );
    return committed.then(({ withoutSnapshot, ...result }) => {
      const unknown = inserted.filter((item) => withoutSnapshot.has(item.itemId));
      if (itemSnapshots && unknown.length > 0) itemSnapshots.fill(unknown, traceId);
      return result;
    });
  }

  /** A user's name for display; their id when the user service does not know them. */
  async function nameOf(userId: string, traceId?: string): Promise<string> {
    const [user] = await bus.request(
      userContract,
      "lookupUsers",
      { ids: [userId] },
      traceId === undefined ? {} : { traceId },
    );
    return user?.name ?? userId;
  }

  async function createPlaylist(
    ownerId: string,
    fields: Pick<StoredPlaylist, "name" | "description" | "isPublic" | "isCollaborative" | "smartRules">,
    trackIds: readonly string[],
  ): Promise<string> {
    const now = clock.now();
    const id = newId();
    await store.insertPlaylist({
      id,
      ownerId,
      ownerName: await nameOf(ownerId),
      ...fields,
      hasUploadedCover: false,
      revision: 0,
      itemCount: 0,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    });
    if (trackIds.length > 0) {
      const items = trackIds.map((trackId) => ({ itemId: newId(), trackId }));
      await commit(id, { userId: ownerId, isSystem: true }, null, [
        { opId: newId(), operation: { type: "insert", afterItemId: null, items } },
      ]);
    }
    return id;
  }

  const invitations = createInvitations({
    store,
    clock,
    access: playlistAccess,
    async findUser(name, traceId) {
      const [found] = await bus.request(userContract, "lookupUsers", { names: [name] }, { traceId });
      return found && { userId: found.id, name: found.name };
    },
    announce,
  });
  const files = createPlaylistFiles({ bus, store, logger });
  const covers = createCovers({ bus, store, limits: { ...defaultCoverLimits, ...coverLimits } });
  const smart = createSmartPlaylists({ bus, store, logger, newId, commit, clock });

  const handlers: HandlersOf<PlaylistContract> = {
    ...invitations,

    async create({ name, description, isPublic, isCollaborative, trackIds }, ctx) {
      const userId = requireUser(ctx);
      const id = await createPlaylist(
        userId,
        { name, description, isPublic, isCollaborative, smartRules: null },
        trackIds,
      );
      logger.info({ playlistId: id, userId, traceId: ctx.traceId }, "playlist created");
      await announceListChange(id, [userId], ctx.traceId);
      return snapshotOf(id, userId);
    },

    get: ({ playlistId }, ctx) => snapshotOf(playlistId, requireUser(ctx)),

    async trackSnapshots({ playlistId, trackIds }, ctx) {
      await visible(playlistId, requireUser(ctx));
      return snapshots ? snapshots.snapshotsIn(playlistId, trackIds) : [];
    },

    async list(_params, ctx) {
      const userId = requireUser(ctx);
      const playlists = await store.playlistsOf(userId);
      const listed = await Promise.all(
        playlists.map(async (playlist) => {
          const access = await accessOf(playlist, userId);
          // A followed playlist that turned private is no longer the follower's to see.
          return access.canView ? infoOf(playlist, userId, access) : undefined;
        }),
      );
      return listed.filter((info) => info !== undefined);
    },

    edit: ({ playlistId, baseRevision, operations }, ctx) =>
      commit(
        playlistId,
        { userId: requireUser(ctx), isSystem: false },
        baseRevision,
        operations,
        ctx.traceId,
      ),

    async changesSince({ playlistId, revision }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await visible(playlistId, userId);
      if (revision > playlist.revision)
        throw new AppError("REVISION_AHEAD", undefined, {
          details: { baseRevision: revision, revision: playlist.revision },
        });
      if (playlist.revision - revision > MAX_CATCH_UP_REVISIONS)
        return { kind: "snapshot" as const, snapshot: await snapshotOf(playlistId, userId) };
      const revisions = await store.revisionsAfter(playlistId, revision, MAX_CATCH_UP_REVISIONS);
      return { kind: "revisions" as const, revision: revisions.at(-1)?.revision ?? revision, revisions };
    },

    async removeCollaborator({ playlistId, userId: collaboratorId }, ctx) {
      const userId = requireUser(ctx);
      const { playlist, access } = await visible(playlistId, userId);
      // A collaborator may leave; only the owner removes others.
      if (access.role !== "owner" && collaboratorId !== userId)
        throw new AppError("FORBIDDEN", "Only the owner removes collaborators");
      if (!(await store.removeMember(playlistId, "collaborator", collaboratorId)))
        throw new AppError("NOT_FOUND", "No such collaborator");
      await announce(
        playlist,
        { revisions: [], membersChanged: true, alsoTell: [collaboratorId], listsChanged: [collaboratorId] },
        ctx.traceId,
      );
      const after = await accessOf(playlist, userId);
      return infoOf(playlist, userId, after);
    },

    async follow({ playlistId }, ctx) {
      const userId = requireUser(ctx);
      const { playlist, access } = await visible(playlistId, userId);
      if (access.role === "owner")
        throw new AppError("BAD_REQUEST", "The owner does not follow their own playlist");
      const name = await nameOf(userId, ctx.traceId);
      await store.addMember(playlistId, "follower", { userId, name }, clock.now());
      await announceListChange(playlistId, [userId], ctx.traceId);
      return infoOf(playlist, userId, access);
    },

    async unfollow({ playlistId }, ctx) {
      const userId = requireUser(ctx);
      await visible(playlistId, userId, true);
      if (await store.removeMember(playlistId, "follower", userId))
        await announceListChange(playlistId, [userId], ctx.traceId);
      return ok;
    },

    async transfer({ playlistId, toUserId }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await owned(playlistId, userId);
      const isMember =
        (await store.isMember(playlistId, "collaborator", toUserId)) ||
        (await store.isMember(playlistId, "follower", toUserId));
      if (!isMember)
        throw new AppError("BAD_REQUEST", "A playlist goes only to one of its collaborators or followers");
      const newOwner = { userId: toUserId, name: await nameOf(toUserId, ctx.traceId) };
      await store.transferOwner(playlistId, newOwner, clock.now());
      // The old owner's invitations end with their ownership.
      const withdrawn = await store.deleteInvitationsOf(playlistId);
      const moved = { ...playlist, ownerId: toUserId, ownerName: newOwner.name };
      await announce(
        moved,
        {
          revisions: [],
          membersChanged: true,
          listsChanged: [toUserId, userId, ...inviteesOf(withdrawn)],
        },
        ctx.traceId,
      );
      logger.info({ playlistId, from: userId, to: toUserId, traceId: ctx.traceId }, "playlist transferred");
      return infoOf(moved, userId);
    },

    async delete({ playlistId }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await owned(playlistId, userId);
      const now = clock.now();
      await store.updatePlaylist(playlistId, { updatedAt: now, deletedAt: now });
      const withdrawn = await store.deleteInvitationsOf(playlistId);
      await announce(
        { ...playlist, deletedAt: now },
        { revisions: [], deleted: true, alsoTell: inviteesOf(withdrawn) },
        ctx.traceId,
      );
      logger.info({ playlistId, userId, traceId: ctx.traceId }, "playlist deleted");
      return ok;
    },

    async import({ name, format, text, isPublic }, ctx) {
      const userId = requireUser(ctx);
      const { trackIds, report } = await files.match(format, text, ctx.traceId);
      const id = await createPlaylist(
        userId,
        { name, description: "", isPublic, isCollaborative: false, smartRules: null },
        trackIds,
      );
      return { snapshot: await snapshotOf(id, userId), report };
    },

    async export({ playlistId, format }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await visible(playlistId, userId);
      return files.render(playlist, await store.liveItems(playlistId), format, ctx.traceId);
    },

    async createSmart({ name, rules, isPublic }, ctx) {
      const userId = requireUser(ctx);
      const id = await createPlaylist(
        userId,
        { name, description: "", isPublic, isCollaborative: false, smartRules: rules },
        [],
      );
      await smart.refresh(id, ctx.traceId);
      return snapshotOf(id, userId);
    },

    async setSmartRules({ playlistId, rules }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await owned(playlistId, userId);
      if (playlist.smartRules === null)
        throw new AppError("BAD_REQUEST", "Only a smart playlist has rules; this one is edited by hand");
      await store.updatePlaylist(playlistId, { updatedAt: clock.now(), smartRules: rules });
      await smart.refresh(playlistId, ctx.traceId);
      return snapshotOf(playlistId, userId);
    },

    async setCover({ playlistId, image }, ctx) {
      const userId = requireUser(ctx);
      const { access } = await visible(playlistId, userId);
      if (!access.canEdit)
        throw new AppError("FORBIDDEN", "Only the owner and collaborators may change the cover");
      await store.setCover(
        playlistId,
        image === null ? null : await covers.normaliseUpload(image),
        clock.now(),
      );
      const updated = (await store.findPlaylist(playlistId))!;
      await announce(updated, { revisions: [], membersChanged: true }, ctx.traceId);
      return infoOf(updated, userId);
    },

    async cover({ playlistId, size }, ctx) {
      const userId = requireUser(ctx);
      const { playlist } = await visible(playlistId, userId);
      return covers.cover(playlist, size, ctx.traceId, userId);
    },

    searchDocuments: ({ playlistIds, cursor, limit }) =>
      searchDocumentsIn(store, playlistIds ? { ids: playlistIds } : { afterId: cursor, limit }),

    async access({ playlistId }, ctx) {
      const userId = requireUser(ctx);
      const playlist = await store.findPlaylist(playlistId);
      if (!playlist) return { canView: false, canEdit: false };
      const access = await accessOf(playlist, userId);
      // Followers of a deleted playlist may still listen for its tombstone.
      const canView =
        playlist.deletedAt === null
          ? access.canView
          : access.canView || (await store.isMember(playlistId, "follower", userId));
      return { canView, canEdit: playlist.deletedAt === null && access.canEdit };
    },
  };

  let subscriptions: Subscription[] = [];

  return {
    handlers,
    refreshSmartPlaylists: () => smart.refreshAll(),
    async start() {
      if (subscriptions.length > 0) return;
      subscriptions = [
        await bus.serve(playlistContract, handlers),
        await bus.subscribe(catalogChangedEvent, (_change, ctx) => {
          smart.refreshAllInBackground(ctx.traceId);
          itemSnapshots?.forgetKnown();
          itemSnapshots?.fill(undefined, ctx.traceId);
        }),
        await bus.subscribe(listeningChangedEvent, ({ userIds }, ctx) =>
          smart.refreshListeningInBackground(userIds, ctx.traceId),
        ),
      ];
      // The library may have changed while the service was down (a scan from the command line).
      smart.refreshAllInBackground();
      itemSnapshots?.fill();
    },
    async stop() {
      const current = subscriptions;
      subscriptions = [];
      await Promise.all(current.map((subscription) => subscription.unsubscribe()));
      await smart.idle();
      await committer.idle();
      await itemSnapshots?.idle();
    },
  };
}
