// Smart rules on the owner's listening: play counts, rating, stars and last played, asked of the events service
// (its `annotations`, as the owner) for the tracks the catalog's rules chose; then filtered and ordered here.
import type { ServiceBus } from "@soundmesh/bus";
import { eventsContract, type Annotation, type SmartRules } from "@soundmesh/protocol";

const DAY_MS = 86_400_000;
/** The events service answers annotations for at most this many ids at once. */
const CHUNK = 500;

/** Whether a track with these annotations (none: never played, rated or starred) passes the listening rules. */
export function matchesListening(
  rules: SmartRules,
  annotation: Annotation | undefined,
  nowMs: number,
): boolean {
  const plays = annotation?.playCount ?? 0;
  const lastPlayedAt = annotation?.lastPlayedAt ?? null;
  const rating = annotation?.rating ?? null;
  if (rules.minPlays !== null && plays < rules.minPlays) return false;
  if (rules.maxPlays !== null && plays > rules.maxPlays) return false;
  if (rules.minRating !== null && (rating === null || rating < rules.minRating)) return false;
  if (rules.starredOnly && (annotation?.starredAt ?? null) === null) return false;
  if (
    rules.playedWithinDays !== null &&
    (lastPlayedAt === null || lastPlayedAt < nowMs - rules.playedWithinDays * DAY_MS)
  )
    return false;
  if (
    rules.notPlayedWithinDays !== null &&
    lastPlayedAt !== null &&
    lastPlayedAt >= nowMs - rules.notPlayedWithinDays * DAY_MS
  )
    return false;
  return true;
}

/** The key a listening order sorts by, largest first (unplayed and unrated last); null for the catalog's orders. */
function sortKey(rules: SmartRules): ((annotation: Annotation | undefined) => number) | null {
  switch (rules.order) {
    case "mostPlayed":
      return (annotation) => annotation?.playCount ?? 0;
    case "recentlyPlayed":
      return (annotation) => annotation?.lastPlayedAt ?? -1;
    case "rating":
      return (annotation) => annotation?.rating ?? 0;
    case "recentlyAdded":
    case "artist":
    case "year":
    case "title":
      return null;
  }
}

/** What the catalog is asked for: its own rules, in its order (by artist under a listening order), all it has. */
export function catalogRulesOf(rules: SmartRules): SmartRules {
  return { ...rules, order: sortKey(rules) === null ? rules.order : "artist", limit: 5_000 };
}

/** The owner's tracks among `candidates` (the catalog's answer, in its order) that pass, ordered and limited. */
export async function applyListeningRules(
  bus: ServiceBus,
  ownerId: string,
  rules: SmartRules,
  candidates: readonly string[],
  nowMs: number,
  traceId?: string,
): Promise<string[]> {
  const annotations = new Map<string, Annotation>();
  for (let start = 0; start < candidates.length; start += CHUNK) {
    const found = await bus.request(
      eventsContract,
      "annotations",
      { kind: "track", ids: candidates.slice(start, start + CHUNK) },
      { userId: ownerId, timeoutMs: 30_000, ...(traceId === undefined ? {} : { traceId }) },
    );
    for (const annotation of found) annotations.set(annotation.id, annotation);
  }
  const kept = candidates.filter((id) => matchesListening(rules, annotations.get(id), nowMs));
  const key = sortKey(rules);
  // A stable sort: ties keep the catalog's order (by artist).
  if (key) kept.sort((a, b) => key(annotations.get(b)) - key(annotations.get(a)));
  return kept.slice(0, rules.limit);
}
