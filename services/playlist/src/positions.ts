// Where items stand: positions are doubles kept at least one slot apart, and when a gap is too narrow only a small
// neighbourhood is spread out again (order-maintenance list labelling), never the whole list.
import type { PlaylistOrder } from "./order";

/**
 * The narrowest distance kept between neighbours: 2^-20 leaves a dozen bits of precision below it for positions in
 * the millions. A fresh list stands 1 apart, so a gap between two neighbours holds about 20 halvings.
 */
export const POSITION_SLOT = 2 ** -20;

/**
 * When a gap is full, the smallest aligned range of 2^level slots around the anchor that holds at most
 * (2 / 1.4)^level items is spread evenly (Bender et al., "Two simplified algorithms for maintaining order in a list").
 * Small ranges may be dense and big ones must be sparse, so a spread range has room to take many inserts before it
 * is spread again: the rows rewritten per insert stay a small multiple of log(n), however the inserts are aimed.
 */
const DENSITY_BASE = 2 / 1.4;
/** Past this level the range would span more than 2^40: the list is spread out whole (never seen in practice). */
const MAX_LEVEL = 60;

/** `count` increasing positions strictly between low and high (null: no neighbour); undefined when too close. */
export function positionsBetween(
  low: number | null,
  high: number | null,
  count: number,
): number[] | undefined {
  const steps = Array.from({ length: count }, (_, i) => i + 1);
  if (low === null && high === null) return steps;
  if (low === null) return steps.map((i) => high! - (count + 1 - i));
  if (high === null) return steps.map((i) => low + i);
  const gap = (high - low) / (count + 1);
  if (gap < POSITION_SLOT) return undefined;
  return steps.map((i) => low + gap * i);
}

const isIncreasing = (positions: readonly number[]) =>
  positions.every((position, i) => i === 0 || position > positions[i - 1]!);

/**
 * Makes room for `count` items right after `low` (the anchor's position; items at or before it stay before them) by
 * spreading the smallest range around it that is sparse enough; answers the new items' positions, or undefined when
 * no range up to MAX_LEVEL is (the caller then renumbers the whole list). `excluded` items (being moved) are left
 * where they are: they get their new positions right after.
 */
export function spreadAround(
  order: PlaylistOrder,
  low: number,
  count: number,
  excluded: ReadonlySet<string>,
): number[] | undefined {
  for (let level = 1; level <= MAX_LEVEL; level += 1) {
    const slots = 2 ** level;
    const capacity = Math.min(DENSITY_BASE ** level, slots - 1);
    // The anchor itself is in the range: skip levels too small for it and the new items without asking.
    if (count + 1 > capacity) continue;
    const size = POSITION_SLOT * slots;
    const start = Math.floor(low / size) * size;
    const end = start + size;
    const held = order.countBetween(start, end, excluded);
    if (held + count > capacity) continue;
    const entries = order.entriesBetween(start, end, excluded);
    const split = entries.findIndex((entry) => entry.position > low);
    const before = split === -1 ? entries.length : split;
    const total = entries.length + count;
    const step = size / (total + 1);
    const spread = Array.from({ length: total }, (_, i) => start + step * (i + 1));
    // At magnitudes where doubles cannot tell the new positions apart, renumbering the whole list is the way out.
    if (!isIncreasing(spread) || spread[0]! <= start || spread.at(-1)! >= end) return undefined;
    const placed = spread.slice(before, before + count);
    const kept = [...spread.slice(0, before), ...spread.slice(before + count)];
    order.setPositions(
      entries
        .map((entry, i) => ({ itemId: entry.itemId, position: kept[i]!, old: entry.position }))
        .filter((entry) => entry.position !== entry.old)
        .map(({ itemId, position }) => ({ itemId, position })),
    );
    return placed;
  }
  return undefined;
}
