// Annotation: star, unstar, setRating, scrobble and reportPlayback, on the events service.
import { randomUUID } from "node:crypto";
import { catalogContract, eventsContract, type AnnotatedKind } from "@soundmesh/protocol";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { idOfKind } from "../ids";

/** The items a star or unstar names: `id` (songs, or any of our ids), `albumId`, `artistId`, each repeatable. */
function starTargets(context: MethodContext): Array<{ kind: AnnotatedKind; id: string }> {
  const { params } = context;
  const targets: Array<{ kind: AnnotatedKind; id: string }> = [];
  for (const value of params.list("id")) {
    const { kind, id } = idOfKind(value, "track", "album", "artist");
    targets.push({ kind, id });
  }
  for (const value of params.list("albumId"))
    targets.push({ kind: "album", id: idOfKind(value, "album").id });
  for (const value of params.list("artistId"))
    targets.push({ kind: "artist", id: idOfKind(value, "artist").id });
  if (targets.length === 0)
    throw new SubsonicError(10, "Required parameter is missing: id, albumId or artistId");
  if (targets.length > 500) throw new SubsonicError(0, "At most 500 items at once");
  return targets;
}

async function checkExists(context: MethodContext, kind: AnnotatedKind, id: string): Promise<void> {
  if (kind === "track") await context.call(catalogContract, "track", { trackId: id });
  else if (kind === "album") await context.call(catalogContract, "album", { albumId: id });
  else await context.call(catalogContract, "artist", { artistId: id });
}

async function setStars(context: MethodContext, starred: boolean) {
  const targets = starTargets(context);
  await Promise.all(targets.map(({ kind, id }) => checkExists(context, kind, id)));
  for (const { kind, id } of targets) await context.call(eventsContract, "setStar", { kind, id, starred });
  return {};
}

/** A play reported by an app becomes a listening event, counted by the events service's rule like the player's. */
async function submitPlay(context: MethodContext, trackId: string, atMs: number) {
  const track = await context.call(catalogContract, "track", { trackId });
  const result = await context.call(eventsContract, "submit", {
    events: [
      {
        v: 1,
        id: randomUUID(),
        type: "play.ended",
        at: Math.min(atMs, Date.now()),
        trackId,
        playedMs: Math.min(track.durationMs, 24 * 3_600_000),
        durationMs: Math.min(track.durationMs, 24 * 3_600_000),
        reason: "finished",
      },
    ],
  });
  const refused = result.refused[0];
  if (refused) throw new SubsonicError(0, `The play was refused: ${refused.message}`);
}

export const annotationMethods: MethodTable = {
  star: (context) => setStars(context, true),
  unstar: (context) => setStars(context, false),

  async setRating(context) {
    const { kind, id } = idOfKind(context.params.string("id", 100), "track", "album", "artist");
    const rating = context.params.int("rating", 0, 5);
    await checkExists(context, kind, id);
    await context.call(eventsContract, "setRating", {
      kind,
      id,
      rating: rating === 0 ? null : rating,
    });
    return {};
  },

  async scrobble(context) {
    const { params } = context;
    const ids = params.list("id");
    if (ids.length === 0) throw new SubsonicError(10, "Required parameter is missing: id");
    if (ids.length > 500) throw new SubsonicError(0, "At most 500 scrobbles at once");
    const times = params.intList("time", 0, 8_640_000_000_000);
    const isSubmission = params.optionalBool("submission") ?? true;
    const trackIds = ids.map((value) => idOfKind(value, "track").id);
    if (!isSubmission) {
      const trackId = trackIds[0]!;
      const track = await context.call(catalogContract, "track", { trackId });
      const now = Date.now();
      context.state.playing(context.identity.user.id, {
        userName: context.identity.user.name,
        trackId,
        playerName: params.optionalString("c", 100) ?? "",
        startedAtMs: now,
        untilMs: now + track.durationMs,
      });
      return {};
    }
    for (const [index, trackId] of trackIds.entries())
      await submitPlay(context, trackId, times[index] ?? Date.now());
    context.state.stopped(context.identity.user.id);
    return {};
  },

  /** OpenSubsonic playbackReport: the app says what plays (or stopped); it feeds getNowPlaying. */
  async reportPlayback(context) {
    const { params } = context;
    const { id: trackId } = idOfKind(params.string("mediaId", 100), "track");
    const state = params.oneOf("state", ["starting", "playing", "paused", "stopped"] as const);
    const positionMs = params.intOr("positionMs", 0, 0, 86_400_000);
    const track = await context.call(catalogContract, "track", { trackId });
    if (state === "stopped" || state === "paused") context.state.stopped(context.identity.user.id);
    else {
      const now = Date.now();
      context.state.playing(context.identity.user.id, {
        userName: context.identity.user.name,
        trackId,
        playerName: params.optionalString("c", 100) ?? "",
        startedAtMs: now - positionMs,
        untilMs: now + Math.max(0, track.durationMs - positionMs),
      });
    }
    return {};
  },
};
