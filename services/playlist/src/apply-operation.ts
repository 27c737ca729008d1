// Applies one submitted operation to the playlist's order in memory (order.ts), whatever happened since the client's base revision, and
// returns it rebased: anchors resolved to live items (or null), removals and moves limited to live items.
// Removed items keep their position as tombstones, so "after X" still means "where X stood" once X is gone.
import {
  AppError,
  MAX_PLAYLIST_ITEMS,
  type PlaylistOperation,
  type PlaylistRevision,
  type SubmittedOperation,
} from "@soundmesh/protocol";
import type { PlaylistOrder } from "./order";
import { positionsBetween, spreadAround } from "./positions";
import type { PlaylistPatch, StoredEntry } from "./store";

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

function entriesOrFail(
  order: PlaylistOrder,
  opId: string,
  itemIds: readonly string[],
): Map<string, StoredEntry> {
  const entries = new Map<string, StoredEntry>();
  const unknown: string[] = [];
  for (const itemId of itemIds) {
    const entry = order.entry(itemId);
    if (entry) entries.set(itemId, entry);
    else unknown.push(itemId);
  }
  if (unknown.length > 0)
    throw badOperation(opId, "unknown-item", `The playlist has no item ${unknown.slice(0, 5).join(", ")}`);
  return entries;
}

/**
 * The gap to place `count` items in: right after the anchor's position (tombstones count, moved items do not),
 * and the live item the client should see them after. An item anchor is known to be in the playlist.
 */
function resolveAnchor(
  order: PlaylistOrder,
  anchor: Anchor,
  excluded: ReadonlySet<string>,
): { low: number | null; high: number | null; after: string | null } {
  if (anchor === "end")
    return { low: order.lastPosition(excluded), high: null, after: order.lastLiveAtOrBefore(null, excluded) };
  if (anchor === null) return { low: null, high: order.nextPosition(null, excluded), after: null };
  const entry = order.entry(anchor)!;
  return {
    low: entry.position,
    high: order.nextPosition(entry.position, excluded),
    after: entry.isLive ? anchor : order.lastLiveAtOrBefore(entry.position, excluded),
  };
}

/**
 * Positions for `count` items in the gap after the anchor. A gap too narrow for them gets a small neighbourhood
 * spread out (see positions.ts); the whole list is renumbered only if no neighbourhood can be.
 */
function placeAfter(
  order: PlaylistOrder,
  anchor: Anchor,
  excluded: ReadonlySet<string>,
  count: number,
): { positions: number[]; after: string | null } {
  let resolved = resolveAnchor(order, anchor, excluded);
  let positions = positionsBetween(resolved.low, resolved.high, count);
  // Only a gap between two neighbours can be too narrow: the ends always have room.
  if (!positions && resolved.low !== null) positions = spreadAround(order, resolved.low, count, excluded);
  if (!positions) {
    order.renumber();
    // Positions just changed: look the anchor up again.
    resolved = resolveAnchor(order, anchor, excluded);
    positions = positionsBetween(resolved.low, resolved.high, count)!;
  }
  return { positions, after: resolved.after };
}

const noneExcluded: ReadonlySet<string> = new Set();

function insert(
  order: PlaylistOrder,
  state: BatchState,
  opId: string,
  operation: Extract<PlaylistOperation, { type: "insert" }>,
  author: string,
  at: number,
): { rebased: PlaylistOperation; delta: number } {
  const itemIds = operation.items.map((item) => item.itemId);
  if (new Set(itemIds).size !== itemIds.length)
    throw badOperation(opId, "duplicate-item", "An insert names the same item id twice");
  const anchor = operation.afterItemId;
  if (itemIds.some((id) => order.entry(id) !== undefined))
    throw badOperation(opId, "item-exists", "An inserted item id is already in the playlist");
  if (anchor !== null && anchor !== "end" && !order.entry(anchor))
    throw badOperation(opId, "unknown-item", `The playlist has no item ${anchor}`);
  if (state.itemCount + itemIds.length > MAX_PLAYLIST_ITEMS)
    throw badOperation(opId, "full", `A playlist holds at most ${MAX_PLAYLIST_ITEMS} items`);
  const { positions, after } = placeAfter(order, anchor, noneExcluded, itemIds.length);
  order.insertItems(
    operation.items.map((item, i) => ({ ...item, addedBy: author, addedAt: at, position: positions[i]! })),
  );
  return { rebased: { ...operation, afterItemId: after }, delta: itemIds.length };
}

function remove(
  order: PlaylistOrder,
  opId: string,
  operation: Extract<PlaylistOperation, { type: "remove" }>,
  revision: number,
): { rebased: PlaylistOperation; delta: number } {
  const itemIds = [...new Set(operation.itemIds)];
  const entries = entriesOrFail(order, opId, itemIds);
  // Items someone else removed already stay removed: nothing to do for them.
  const live = itemIds.filter((id) => entries.get(id)!.isLive);
  order.markRemoved(live, revision);
  return { rebased: { type: "remove", itemIds: live }, delta: -live.length };
}

function move(
  order: PlaylistOrder,
  opId: string,
  operation: Extract<PlaylistOperation, { type: "move" }>,
): { rebased: PlaylistOperation; delta: number } {
  const { itemIds, afterItemId } = operation;
  if (new Set(itemIds).size !== itemIds.length)
    throw badOperation(opId, "duplicate-item", "A move names the same item id twice");
  if (afterItemId !== null && afterItemId !== "end" && itemIds.includes(afterItemId))
    throw badOperation(opId, "anchor-moved", "A move cannot be anchored on an item it moves");
  const hasItemAnchor = afterItemId !== null && afterItemId !== "end";
  const entries = entriesOrFail(order, opId, hasItemAnchor ? [...itemIds, afterItemId] : itemIds);
  const live = itemIds.filter((id) => entries.get(id)!.isLive);
  if (live.length === 0) return { rebased: { type: "move", itemIds: [], afterItemId: null }, delta: 0 };
  const { positions, after } = placeAfter(order, afterItemId, new Set(live), live.length);
  order.setPositions(live.map((itemId, i) => ({ itemId, position: positions[i]! })));
  return { rebased: { type: "move", itemIds: live, afterItemId: after }, delta: 0 };
}

/**
 * Applies `submitted` as revision state.revision + 1; throws BAD_OPERATION (details: opId, reason) when it cannot.
 * The caller records the revision and writes what the order changed (with the rest of the batch's, in a few writes).
 */
export function applyOperation(
  order: PlaylistOrder,
  state: BatchState,
  submitted: SubmittedOperation,
  author: string,
  at: number,
): AppliedOperation {
  const { opId, operation } = submitted;
  const revisionNumber = state.revision + 1;
  const patch: PlaylistPatch = { updatedAt: at };
  let outcome: { rebased: PlaylistOperation; delta: number } = { rebased: operation, delta: 0 };
  switch (operation.type) {
    case "insert":
      outcome = insert(order, state, opId, operation, author, at);
      break;
    case "remove":
      outcome = remove(order, opId, operation, revisionNumber);
      break;
    case "move":
      outcome = move(order, opId, operation);
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
