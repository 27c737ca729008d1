// Commits edits to playlists. Concurrent edits of one playlist share a transaction, so a hot playlist pays one
// commit — one WAL flush on PostgreSQL — per group instead of per edit, while revisions stay strictly sequential
// under the playlist's row lock. Operations apply to the playlist's order in memory (order.ts), kept between groups
// and trusted only when its revision is the one read under the lock; a refused edit's changes are undone in memory,
// and the group's changes are written at the end in a few multi-row statements, each changed row once.
import {
  AppError,
  toAppError,
  type ItemSnapshot,
  type PlaylistRevision,
  type SubmittedOperation,
} from "@soundmesh/protocol";
import { applyOperation, type BatchState } from "./apply-operation";
import { PlaylistOrder } from "./order";
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
  /** Items the edit's group inserted without their track's snapshot (the service did not know the track yet). */
  withoutSnapshot: ReadonlySet<string>;
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
  /** How many items (tombstones included) the orders kept in memory between groups hold at most, all together. */
  maxCachedItems?: number;
  /** A track's snapshot when the service knows it already: written with the item, so nothing fills it afterwards. */
  snapshotOf?: (trackId: string) => ItemSnapshot | undefined;
}

const itemOperations = new Set(["insert", "remove", "move"]);

/**
 * A big edit (up to 500 operations) works in slices of this many operations, or rows written, with a turn of the event
 * loop between them, so no other request waits for all of it at once. The playlist stays locked meanwhile (its queue
 * here, its row on PostgreSQL); other playlists' edits and everyone's reads (a connection of their own on SQLite) go on.
 */
export const EDIT_SLICE = 64;
/**
 * Operations applied in memory per turn: 64 inserts aimed at one spot of a 20,000-item playlist (the gap spreads they
 * cause, a splice of the list each) took 1.5–4 ms of one turn.
 */
const APPLY_SLICE = 32;

/** Lets other work run between the slices of a big edit. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
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
 * One edit inside the group's transaction, in memory. A resubmitted operation (already in `earlier`, or twice in this
 * edit) answers with its first revision; `earlier` learns this edit's revisions only once it has succeeded.
 */
async function applyEdit(
  order: PlaylistOrder,
  playlist: StoredPlaylist,
  state: BatchState,
  request: EditRequest,
  at: number,
  earlier: Map<string, PlaylistRevision>,
): Promise<{ applied: PlaylistRevision[]; fresh: PlaylistRevision[] }> {
  const applied: PlaylistRevision[] = [];
  const fresh = new Map<string, PlaylistRevision>();
  for (const [index, submitted] of request.operations.entries()) {
    if (index > 0 && index % APPLY_SLICE === 0) await nextTurn();
    const before = earlier.get(submitted.opId) ?? fresh.get(submitted.opId);
    if (before) {
      applied.push(before);
      continue;
    }
    const result = applyOperation(order, state, submitted, request.editor.userId, at);
    Object.assign(playlist, result.patch);
    applied.push(result.revision);
    fresh.set(submitted.opId, result.revision);
  }
  for (const [opId, revision] of fresh) earlier.set(opId, revision);
  return { applied, fresh: [...fresh.values()] };
}

/**
 * Writes what the group changed: each changed item row once, then the revisions, then the playlist row. Answers the
 * items inserted without a snapshot.
 */
async function writeGroup(
  tx: PlaylistTransaction,
  order: PlaylistOrder,
  revisions: readonly PlaylistRevision[],
  playlist: StoredPlaylist,
  state: BatchState,
  snapshotOf: (trackId: string) => ItemSnapshot | undefined,
): Promise<Set<string>> {
  const { inserted: rows, positions, removed } = order.flush();
  const withoutSnapshot = new Set<string>();
  const inserted = rows.map((row) => {
    const snapshot = snapshotOf(row.trackId);
    if (!snapshot) withoutSnapshot.add(row.itemId);
    return snapshot ? { ...row, snapshot } : row;
  });
  // A big group's statements are slices of their own (the store writes a few hundred rows a statement).
  const isBig = inserted.length + positions.length + removed.length + revisions.length > EDIT_SLICE;
  await tx.insertItems(inserted);
  if (isBig) await nextTurn();
  await tx.setPositions(positions);
  if (isBig) await nextTurn();
  await tx.markRemoved(removed);
  if (isBig) await nextTurn();
  await tx.insertRevisions(revisions);
  if (isBig) await nextTurn();
  if (state.revision !== tx.playlist.revision) {
    const { name, description, isPublic, isCollaborative, updatedAt } = playlist;
    await tx.updatePlaylist(state, { name, description, isPublic, isCollaborative, updatedAt });
  }
  return withoutSnapshot;
}

/**
 * Orders of recently edited playlists, least recently used first, within a total number of items. The one just
 * used always stays, however big (tombstones count, and are not bounded): loading it again for every group would
 * cost far more than keeping it.
 */
function createOrderCache(maxItems: number) {
  const orders = new Map<string, PlaylistOrder>();
  let items = 0;
  return {
    /** The order as of `revision`, taken out of the cache (a failed group must not leave it half changed). */
    take(playlistId: string, revision: number): PlaylistOrder | undefined {
      const order = orders.get(playlistId);
      if (!order) return undefined;
      orders.delete(playlistId);
      items -= order.size;
      return order.revision === revision ? order : undefined;
    },
    put(playlistId: string, order: PlaylistOrder): void {
      orders.set(playlistId, order);
      items += order.size;
      for (const [id, oldest] of orders) {
        if (items <= maxItems || id === playlistId) break;
        orders.delete(id);
        items -= oldest.size;
      }
    },
  };
}

export function createEditCommitter(deps: EditCommitterDeps) {
  const { store, clock } = deps;
  const snapshotOf = deps.snapshotOf ?? (() => undefined);
  const maxGroup = deps.maxGroup ?? 64;
  const queues = new Map<string, Pending[]>();
  // 200,000 items: ten full playlists, about 30 MB.
  const orders = createOrderCache(deps.maxCachedItems ?? 200_000);

  async function runGroup(playlistId: string, group: Pending[]): Promise<void> {
    const outcomes: Array<{ applied: PlaylistRevision[]; fresh: PlaylistRevision[] } | { error: unknown }> =
      [];
    let final: StoredPlaylist | undefined;
    let withoutSnapshot: ReadonlySet<string> = new Set();
    try {
      const needsMembers = group.some((pending) => !pending.request.editor.isSystem);
      const collaborators = needsMembers ? await store.members(playlistId, "collaborator") : [];
      const edited = await store.editPlaylist(playlistId, async (tx) => {
        const playlist = { ...tx.playlist };
        const state: BatchState = { revision: playlist.revision, itemCount: playlist.itemCount };
        const order =
          orders.take(playlistId, playlist.revision) ??
          new PlaylistOrder(await tx.loadOrder(), playlist.revision);
        const at = clock.now();
        const earlier = await tx.revisionsOfOperations(
          group.flatMap(({ request }) => request.operations.map((op) => op.opId)),
        );
        for (const { request } of group) {
          const before = { playlist: { ...playlist }, state: { ...state }, mark: order.mark() };
          try {
            checkPermission({ ...playlist, ...state }, request, collaborators);
            outcomes.push(await applyEdit(order, playlist, state, request, at, earlier));
          } catch (error) {
            // Nothing is written yet: undoing the edit in memory leaves the others as they were.
            order.rollback(before.mark);
            Object.assign(playlist, before.playlist);
            Object.assign(state, before.state);
            outcomes.push({ error });
          }
        }
        const fresh = outcomes.flatMap((outcome) => ("fresh" in outcome ? outcome.fresh : []));
        const withoutSnapshot = await writeGroup(tx, order, fresh, playlist, state, snapshotOf);
        order.revision = state.revision;
        return { playlist: { ...playlist, ...state }, order, withoutSnapshot };
      });
      if (edited) {
        final = edited.playlist;
        withoutSnapshot = edited.withoutSnapshot;
        // Committed: the order now stands as stored, for the next group.
        orders.put(playlistId, edited.order);
      }
    } catch (error) {
      for (const pending of group) pending.reject(toAppError(error));
      return;
    }
    if (!final) {
      for (const pending of group) pending.reject(new AppError("NOT_FOUND", "No such playlist"));
      return;
    }
    const fresh = outcomes.flatMap((outcome) => ("fresh" in outcome ? outcome.fresh : []));
    // After a big group, the commit, the announcement (its revisions checked against the event's contract) and the
    // answers (checked and encoded) are a turn each, not one block of several milliseconds.
    const isBig = fresh.length > EDIT_SLICE;
    if (isBig) await nextTurn();
    if (fresh.length > 0) await deps.announce(final, fresh, group[0]!.request.traceId);
    if (isBig) await nextTurn();
    group.forEach((pending, index) => {
      const outcome = outcomes[index]!;
      if ("error" in outcome) pending.reject(outcome.error);
      else pending.resolve({ revision: final.revision, applied: outcome.applied, withoutSnapshot });
    });
  }

  const draining = new Set<Promise<void>>();

  async function drain(playlistId: string, queue: Pending[]): Promise<void> {
    // One turn of the event loop before each group lets the edits already received join it. Without it, on SQLite
    // (whose queries never wait for I/O) the first edit's group would commit before the next edit is even read.
    do {
      await new Promise((resolve) => setImmediate(resolve));
      await runGroup(playlistId, queue.splice(0, maxGroup));
    } while (queue.length > 0);
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
