// Checks a submitted batch event by event: a malformed one, or one timed outside what the log can place and
// de-duplicate, is refused with its code while the rest of the batch is stored.
import {
  MAX_EVENT_CLOCK_AHEAD_MS,
  listeningEvent,
  type ListeningEvent,
  type RefusedEvent,
} from "@soundmesh/protocol";

export interface Screened {
  events: ListeningEvent[];
  refused: RefusedEvent[];
}

const idOf = (raw: unknown): string | null =>
  typeof raw === "object" && raw !== null && "id" in raw && typeof raw.id === "string"
    ? raw.id.slice(0, 64)
    : null;

export function screenEvents(raw: readonly unknown[], now: number, dedupWindowMs: number): Screened {
  const events: ListeningEvent[] = [];
  const refused: RefusedEvent[] = [];
  raw.forEach((candidate, index) => {
    const parsed = listeningEvent.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.join(".") ?? "";
      refused.push({
        index,
        id: idOf(candidate),
        code: "BAD_EVENT",
        message: `${where ? `${where}: ` : ""}${issue?.message ?? "not an event"}`,
      });
      return;
    }
    const { at, id } = parsed.data;
    if (at > now + MAX_EVENT_CLOCK_AHEAD_MS)
      refused.push({
        index,
        id,
        code: "EVENT_TIME_OUT_OF_RANGE",
        message: "the event is timed in the future",
      });
    else if (at <= now - dedupWindowMs)
      refused.push({
        index,
        id,
        code: "EVENT_TIME_OUT_OF_RANGE",
        message: "the event is older than the de-duplication window",
      });
    else events.push(parsed.data);
  });
  return { events, refused };
}
