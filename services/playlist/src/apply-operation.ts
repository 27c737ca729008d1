// Applies one submitted operation to the stored playlist, whatever happened since the client's base revision, and
// returns it rebased: anchors resolved to live items (or null), removals and moves limited to live items.
// Removed items keep their position as tombstones, so "after X" still means "where X stood" once X is gone.
import {
  AppError,
  MAX_PLAYLIST_ITEMS,
  type PlaylistOperation,
  type PlaylistRevision,
  type SubmittedOperation,
} from "@soundmesh/protocol";
import { positionsBetween, spreadAround } from "./positions";
import type { PlaylistPatch, PlaylistTransaction, StoredEntry } from "./store";

/** What the batch has changed so far: operations later in the same batch see it. */
export interface BatchState {
  revision: number;
  itemCount: number;
}

export interface AppliedOperation {
  revision: PlaylistRevision;
  patch: PlaylistPatch;
  itemCountDelta: number;
}

type Anchor = string | null;

const badOperation = (opId: string, reason: string, message: string) =>
  new AppError("BAD_OPERATION", message, { details: { opId, reason } });

async function entriesOrFail(
  tx: PlaylistTransaction,
  opId: string,
  itemIds: readonly string[],
): Promise<Map<string, StoredEntry>> {
  const entries = await tx.entries(itemIds);
  const unknown = itemIds.filter((id) => !entries.has(id));
  if (unknown.length > 0)
    throw badOperation(opId, "unknown-item", `The playlist has no item ${unknown.slice(0, 5).join(", ")}`);
  return entries;
}

/**
 * The gap to place `count` items in: right after the anchor's position (tombstones count, moved items do not),
 * and the live item the client should see them after.
 */
async function resolveAnchor(
  tx: PlaylistTransaction,
  opId: string,
  anchor: Anchor,
  excluded: readonly string[],
  known?: ReadonlyMap<string, StoredEntry>,
): Promise<{ low: number | null; high: number | null; after: string | null }> {
  if (anchor === "end") {
    return {
      low: await tx.lastPosition(excluded),
      high: null,
      after: await tx.lastLiveAtOrBefore(null, excluded),
    };
  }
  if (anchor === null) return { low: null, high: await tx.nextPosition(null, excluded), after: null };
  const entry = known?.get(anchor) ?? (await entriesOrFail(tx, opId, [anchor])).get(anchor)!;
  return {
    low: entry.position,
    high: await tx.nextPosition(entry.position, excluded),
    after: entry.isLive ? anchor : await tx.lastLiveAtOrBefore(entry.position, excluded),
  };
}

/**
 * Positions for `count` items in the gap after the anchor. A gap too narrow for them gets a small neighbourhood
 * spread out (see positions.ts); the whole list is renumbered only if no neighbourhood can be.
 */
async function placeAfter(
  tx: PlaylistTransaction,
  opId: string,
  anchor: Anchor,
  excluded: readonly string[],
  count: number,
  known?: ReadonlyMap<string, StoredEntry>,
): Promise<{ positions: number[]; after: string | null }> {
  let resolved = await resolveAnchor(tx, opId, anchor, excluded, known);
  let positions = positionsBetween(resolved.low, resolved.high, count);
  // Only a gap between two neighbours can be too narrow: the ends always have room.
  if (!positions && resolved.low !== null) positions = await spreadAround(tx, resolved.low, count, excluded);
  if (!positions) {
    await tx.renumber();
    // Positions just changed: look the anchor up again.
    resolved = await resolveAnchor(tx, opId, anchor, excluded);
    positions = positionsBetween(resolved.low, resolved.high, count)!;
  }
  return { positions, after: resolved.after };
}

async function insert(
  tx: PlaylistTransaction,
  state: BatchState,
  opId: string,
  operation: Extract<PlaylistOperation, { type: "insert" }>,
  author: string,
  at: number,
): Promise<{ rebased: PlaylistOperation; delta: number }> {
  const itemIds = operation.items.map((item) => item.itemId);
  if (new Set(itemIds).size !== itemIds.length)
    throw badOperation(opId, "duplicate-item", "An insert names the same item id twice");
  const anchor = operation.afterItemId;
  const hasItemAnchor = anchor !== null && anchor !== "end";
  // One lookup answers both: are the new ids free, and where does the anchor stand?
  const entries = await tx.entries(hasItemAnchor ? [...itemIds, anchor] : itemIds);
  if (itemIds.some((id) => entries.has(id)))
    throw badOperation(opId, "item-exists", "An inserted item id is already in the playlist");
  if (hasItemAnchor && !entries.has(anchor))
    throw badOperation(opId, "unknown-item", `The playlist has no item ${anchor}`);
  if (state.itemCount + itemIds.length > MAX_PLAYLIST_ITEMS)
    throw badOperation(opId, "full", `A playlist holds at most ${MAX_PLAYLIST_ITEMS} items`);
  const { positions, after } = await placeAfter(tx, opId, anchor, [], itemIds.length, entries);
  await tx.insertItems(
    operation.items.map((item, i) => ({ ...item, addedBy: author, addedAt: at, position: positions[i]! })),
  );
  return { rebased: { ...operation, afterItemId: after }, delta: itemIds.length };
}

async function remove(
  tx: PlaylistTransaction,
  opId: string,
  operation: Extract<PlaylistOperation, { type: "remove" }>,
  revision: number,
): Promise<{ rebased: PlaylistOperation; delta: number }> {
  const itemIds = [...new Set(operation.itemIds)];
  const entries = await entriesOrFail(tx, opId, itemIds);
  // Items someone else removed already stay removed: nothing to do for them.
  const live = itemIds.filter((id) => entries.get(id)!.isLive);
  await tx.markRemoved(live, revision);
  return { rebased: { type: "remove", itemIds: live }, delta: -live.length };
}

async function move(
  tx: PlaylistTransaction,
  opId: string,
  operation: Extract<PlaylistOperation, { type: "move" }>,
): Promise<{ rebased: PlaylistOperation; delta: number }> {
  const { itemIds, afterItemId } = operation;
  if (new Set(itemIds).size !== itemIds.length)
    throw badOperation(opId, "duplicate-item", "A move names the same item id twice");
  if (afterItemId !== null && afterItemId !== "end" && itemIds.includes(afterItemId))
    throw badOperation(opId, "anchor-moved", "A move cannot be anchored on an item it moves");
  const hasItemAnchor = afterItemId !== null && afterItemId !== "end";
  const entries = await entriesOrFail(tx, opId, hasItemAnchor ? [...itemIds, afterItemId] : itemIds);
  const live = itemIds.filter((id) => entries.get(id)!.isLive);
  if (live.length === 0) return { rebased: { type: "move", itemIds: [], afterItemId: null }, delta: 0 };
  const { positions, after } = await placeAfter(tx, opId, afterItemId, live, live.length, entries);
  await tx.setPositions(live.map((itemId, i) => ({ itemId, position: positions[i]! })));
  return { rebased: { type: "move", itemIds: live, afterItemId: after }, delta: 0 };
}

/**
 * Applies `submitted` as revision state.revision + 1; throws BAD_OPERATION (details: opId, reason) when it cannot.
 * The caller records the revision (with the rest of the edit's, in one write).
 */
export async function applyOperation(
  tx: PlaylistTransaction,
  state: BatchState,
  submitted: SubmittedOperation,
  author: string,
  at: number,
): Promise<AppliedOperation> {
  const { opId, operation } = submitted;
  const revisionNumber = state.revision + 1;
  const patch: PlaylistPatch = { updatedAt: at };
  let outcome: { rebased: PlaylistOperation; delta: number } = { rebased: operation, delta: 0 };
  switch (operation.type) {
    case "insert":
      outcome = await insert(tx, state, opId, operation, author, at);
      break;
    case "remove":
      outcome = await remove(tx, opId, operation, revisionNumber);
      break;
    case "move":
      outcome = await move(tx, opId, operation);
      break;
    case "rename":
      patch.name = operation.name;
      break;
    case "setDescription":
      patch.description = operation.description;
      break;
    case "setPublic":
      patch.isPublic = operation.isPublic;
      break;
    case "setCollaborative":
      patch.isCollaborative = operation.isCollaborative;
      break;
  }
  const revision: PlaylistRevision = {
    revision: revisionNumber,
    opId,
    author,
    at,
    operation: outcome.rebased,
  };
  state.revision = revisionNumber;
  state.itemCount += outcome.delta;
  return { revision, patch, itemCountDelta: outcome.delta };
}
