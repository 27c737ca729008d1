// The play queue (getPlayQueue/savePlayQueue and the index-based variants) on the events service's saved queue,
// which the web player's "Resume the queue from…" shares.
import { eventsContract, type SavedQueue } from "@soundmesh/protocol";
import { tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { idOfKind, trackIdOf } from "../ids";
import { songsOf } from "../mapping";
import type { Body } from "../response";

async function queueBody(context: MethodContext, saved: SavedQueue, byIndex: boolean): Promise<Body> {
  const tracks = await tracksByIds(context, saved.trackIds);
  const current = saved.trackIds[saved.currentIndex];
  return {
    ...(byIndex
      ? { currentIndex: saved.trackIds.length === 0 ? undefined : saved.currentIndex }
      : { current: current === undefined ? undefined : trackIdOf(current) }),
    position: saved.positionMs,
    username: context.identity.user.name,
    changed: new Date(saved.updatedAt).toISOString(),
    changedBy: saved.device,
    entry: await songsOf(context, tracks),
  };
}

/** Saves over whatever is saved: Subsonic apps know no revisions, so the last save wins, as in Subsonic. */
async function save(context: MethodContext, trackIds: string[], currentIndex: number, positionMs: number) {
  if (trackIds.length > 5_000) throw new SubsonicError(0, "At most 5,000 songs in a queue");
  const loaded = await context.call(eventsContract, "loadQueue", {});
  await context.call(eventsContract, "saveQueue", {
    trackIds,
    currentIndex,
    positionMs,
    device: (context.params.optionalString("c", 100) ?? "Subsonic app").slice(0, 100),
    baseRevision: loaded?.revision ?? 0,
  });
  return {};
}

export const queueMethods: MethodTable = {
  async getPlayQueue(context) {
    const saved = await context.call(eventsContract, "loadQueue", {});
    return saved ? { playQueue: await queueBody(context, saved, false) } : {};
  },
  async getPlayQueueByIndex(context) {
    const saved = await context.call(eventsContract, "loadQueue", {});
    return saved ? { playQueueByIndex: await queueBody(context, saved, true) } : {};
  },

  async savePlayQueue(context) {
    const { params } = context;
    const trackIds = params.list("id").map((value) => idOfKind(value, "track").id);
    const current = params.optionalString("current", 100);
    const currentIndex = current === undefined ? 0 : trackIds.indexOf(idOfKind(current, "track").id);
    if (currentIndex < 0) throw new SubsonicError(0, "current is not in the queue");
    return save(context, trackIds, currentIndex, params.intOr("position", 0, 0, 86_400_000));
  },
  async savePlayQueueByIndex(context) {
    const { params } = context;
    const trackIds = params.list("id").map((value) => idOfKind(value, "track").id);
    const currentIndex = params.intOr("currentIndex", 0, 0, 5_000);
    if (trackIds.length > 0 && currentIndex >= trackIds.length)
      throw new SubsonicError(0, "currentIndex is past the end of the queue");
    return save(context, trackIds, currentIndex, params.intOr("position", 0, 0, 86_400_000));
  },
};
