// Commits edits to playlists. Concurrent edits of one playlist share a transaction, each in its own savepoint (a
// refused edit leaves the others), so a hot playlist pays one commit — one WAL flush on PostgreSQL — per group
// instead of per edit, while revisions stay strictly sequential under the playlist's row lock.
import { AppError, toAppError, type PlaylistRevision, type SubmittedOperation } from "@soundmesh/protocol";
import { applyOperation, type BatchState } from "./apply-operation";
import type { PlaylistMember, PlaylistStore, PlaylistTransaction, StoredPlaylist } from "./store";

/** Who runs an edit; the service's own edits (smart refreshes) skip the permission checks. */
export interface Editor {
  userId: string;
  isSystem: boolean;
}

export interface EditRequest {
  editor: Editor;
  /** The revision the client saw; null for the service's own edits. */
  baseRevision: number | null;
  operations: readonly SubmittedOperation[];
  traceId?: string;
}

export interface EditResult {
  revision: number;
  applied: PlaylistRevision[];
}

interface Pending {
  request: EditRequest;
  resolve: (result: EditResult) => void;
  reject: (error: unknown) => void;
}

export interface EditCommitterDeps {
  store: PlaylistStore;
  clock: { now(): number };
  /** Tells followers about new revisions, once per group, after the commit. */
  announce(playlist: StoredPlaylist, revisions: PlaylistRevision[], traceId?: string): Promise<void>;
  /** The most edits one transaction takes. */
  maxGroup?: number;
}

const itemOperations = new Set(["insert", "remove", "move"]);
const ownerOperations = new Set(["setPublic", "setCollaborative"]);

function checkPermission(
  playlist: StoredPlaylist,
  { editor, baseRevision, operations }: EditRequest,
  collaborators: readonly PlaylistMember[],
): void {
  if (editor.isSystem) return;
  const isOwner = playlist.ownerId === editor.userId;
  const isCollaborator = collaborators.some((member) => member.userId === editor.userId);
  if (!isOwner && !isCollaborator && !playlist.isPublic) throw new AppError("NOT_FOUND", "No such playlist");
  if (playlist.deletedAt !== null) throw new AppError("GONE", "The playlist was deleted");
  if (!isOwner && !(isCollaborator && playlist.isCollaborative))
    throw new AppError("FORBIDDEN", "Only the owner and collaborators may edit this playlist");
  if (baseRevision !== null && baseRevision > playlist.revision)
    throw new AppError("REVISION_AHEAD", undefined, {
      details: { baseRevision, revision: playlist.revision },
    });
  for (const { opId, operation } of operations) {
    if (ownerOperations.has(operation.type) && !isOwner)
      throw new AppError("FORBIDDEN", "Only the owner may change who sees or edits the playlist", {
        details: { opId },
      });
    if (itemOperations.has(operation.type) && playlist.smartRules !== null)
      throw new AppError("BAD_OPERATION", "A smart playlist's items follow its rules", {
        details: { opId, reason: "smart" },
      });
  }
}

/**
 * One edit inside the group's transaction. A resubmitted operation (already in `earlier`, or twice in this edit)
 * answers with its first revision; `earlier` learns this edit's revisions only once it has succeeded.
 */
async function applyEdit(
  tx: PlaylistTransaction,
  playlist: StoredPlaylist,
  state: BatchState,
  request: EditRequest,
  at: number,
  earlier: Map<string, PlaylistRevision>,
): Promise<{ applied: PlaylistRevision[]; fresh: PlaylistRevision[] }> {
  const applied: PlaylistRevision[] = [];
  const fresh = new Map<string, PlaylistRevision>();
  for (const submitted of request.operations) {
    const before = earlier.get(submitted.opId) ?? fresh.get(submitted.opId);
    if (before) {
      applied.push(before);
      continue;
    }
    const result = await applyOperation(tx, state, submitted, request.editor.userId, at);
    Object.assign(playlist, result.patch);
    applied.push(result.revision);
    fresh.set(submitted.opId, result.revision);
  }
  // Written together once every operation applied: a 500-operation edit pays a few statements for them, not 500.
  await tx.insertRevisions([...fresh.values()]);
  for (const [opId, revision] of fresh) earlier.set(opId, revision);
  return { applied, fresh: [...fresh.values()] };
}

export function createEditCommitter(deps: EditCommitterDeps) {
  const { store, clock } = deps;
  const maxGroup = deps.maxGroup ?? 64;
  const queues = new Map<string, Pending[]>();

  async function runGroup(playlistId: string, group: Pending[]): Promise<void> {
    const outcomes: Array<{ applied: PlaylistRevision[]; fresh: PlaylistRevision[] } | { error: unknown }> =
      [];
    let final: StoredPlaylist | undefined;
    try {
      const needsMembers = group.some((pending) => !pending.request.editor.isSystem);
      const collaborators = needsMembers ? await store.members(playlistId, "collaborator") : [];
      final = await store.editPlaylist(playlistId, async (tx) => {
        const playlist = { ...tx.playlist };
        const state: BatchState = { revision: playlist.revision, itemCount: playlist.itemCount };
        const at = clock.now();
        const earlier = await tx.revisionsOfOperations(
          group.flatMap(({ request }) => request.operations.map((op) => op.opId)),
        );
        // A lone edit needs no savepoint: if it fails, the whole transaction rolls back.
        const isAlone = group.length === 1;
        for (const [index, { request }] of group.entries()) {
          const before = { playlist: { ...playlist }, state: { ...state } };
          const savepoint = `edit_${index}`;
          if (!isAlone) await tx.savepoint(savepoint);
          try {
            checkPermission({ ...playlist, ...state }, request, collaborators);
            outcomes.push(await applyEdit(tx, playlist, state, request, at, earlier));
            if (!isAlone) await tx.releaseSavepoint(savepoint);
          } catch (error) {
            if (isAlone) throw error;
            await tx.rollbackToSavepoint(savepoint);
            Object.assign(playlist, before.playlist);
            Object.assign(state, before.state);
            outcomes.push({ error });
          }
        }
        if (state.revision !== tx.playlist.revision) {
          const { name, description, isPublic, isCollaborative, updatedAt } = playlist;
          await tx.updatePlaylist(state, { name, description, isPublic, isCollaborative, updatedAt });
        }
        return { ...playlist, ...state };
      });
    } catch (error) {
      for (const pending of group) pending.reject(toAppError(error));
      return;
    }
    if (!final) {
      for (const pending of group) pending.reject(new AppError("NOT_FOUND", "No such playlist"));
      return;
    }
    const fresh = outcomes.flatMap((outcome) => ("fresh" in outcome ? outcome.fresh : []));
    if (fresh.length > 0) await deps.announce(final, fresh, group[0]!.request.traceId);
    group.forEach((pending, index) => {
      const outcome = outcomes[index]!;
      if ("error" in outcome) pending.reject(outcome.error);
      else pending.resolve({ revision: final.revision, applied: outcome.applied });
    });
  }

  const draining = new Set<Promise<void>>();

  async function drain(playlistId: string, queue: Pending[]): Promise<void> {
    while (queue.length > 0) await runGroup(playlistId, queue.splice(0, maxGroup));
    queues.delete(playlistId);
  }

  return {
    /** Applies the request's operations as consecutive revisions; all or nothing for this request. */
    submit(playlistId: string, request: EditRequest): Promise<EditResult> {
      return new Promise((resolve, reject) => {
        const waiting = queues.get(playlistId);
        if (waiting) {
          waiting.push({ request, resolve, reject });
          return;
        }
        const queue: Pending[] = [{ request, resolve, reject }];
        queues.set(playlistId, queue);
        const run = drain(playlistId, queue).finally(() => draining.delete(run));
        draining.add(run);
      });
    },
    /** Resolves once every submitted edit is settled. */
    async idle(): Promise<void> {
      while (draining.size > 0) await Promise.all([...draining]);
    },
  };
}
