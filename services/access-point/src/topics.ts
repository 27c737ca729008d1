// The push topics clients may follow over the socket, and who may follow each: scan and transcoding progress for
// administrators, catalog changes for everyone, a playlist's changes for those who may see it.
import {
  AppError,
  catalogChangedEvent,
  jobProgressEvent,
  myPlaylistsTopic,
  playlistChangedEvent,
  playlistContract,
  playlistTopic,
  playlistTopicPattern,
  scanProgressEvent,
  transcodeProgressEvent,
  type EventContract,
} from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import type { PushTopic } from "./push-hub";

/** A topic of one event, pushed as published, that only administrators may follow. */
function adminTopic<E extends EventContract>(event: E, what: string): PushTopic<E> {
  const escaped = event.topic.replace(/\./g, "\\.");
  return {
    pattern: new RegExp(`^${escaped}$`),
    event,
    authorize: (identity) => {
      if (identity.user.role !== "admin") throw new AppError("FORBIDDEN", `${what} is for administrators`);
    },
    route: () => [event.topic],
  };
}

/** Scan, transcoding and job progress for admins, catalog changes for everyone. */
const libraryTopics: PushTopic[] = [
  adminTopic(scanProgressEvent, "Scan progress"),
  adminTopic(transcodeProgressEvent, "Transcoding progress"),
  adminTopic(jobProgressEvent, "Job progress"),
  {
    pattern: /^catalog\.changed$/,
    event: catalogChangedEvent,
    authorize: () => undefined,
    route: () => ["catalog.changed"],
  } satisfies PushTopic<typeof catalogChangedEvent>,
] as PushTopic[];

/**
 * `playlist.<id>`: only for users who may see the playlist, and each change only to its audience.
 * `playlists.mine`: a change to each signed-in user whose own list of playlists it changed.
 */
function playlistTopics(bus: ServiceBus): PushTopic[] {
  const playlist: PushTopic<typeof playlistChangedEvent> = {
    pattern: playlistTopicPattern,
    event: playlistChangedEvent,
    async authorize(identity, name) {
      const playlistId = playlistTopicPattern.exec(name)![1]!;
      const { canView } = await bus.request(
        playlistContract,
        "access",
        { playlistId },
        { userId: identity.user.id, role: identity.user.role },
      );
      if (!canView) throw new AppError("NOT_FOUND", "No such playlist");
    },
    // A change that only moved someone's list (a follow) is nothing for the playlist's followers.
    route: (change) =>
      change.revisions.length > 0 || change.membersChanged || change.deleted
        ? [playlistTopic(change.playlistId)]
        : [],
    accepts: (identity, change) => change.audience === null || change.audience.includes(identity.user.id),
  };
  const mine: PushTopic<typeof playlistChangedEvent> = {
    pattern: /^playlists\.mine$/,
    event: playlistChangedEvent,
    authorize: () => undefined,
    route: (change) => (change.listsChanged.length > 0 ? [myPlaylistsTopic] : []),
    accepts: (identity, change) => change.listsChanged.includes(identity.user.id),
  };
  return [playlist, mine] as PushTopic[];
}

/** Every topic the access point serves; `bus` asks the playlist service who may follow a playlist. */
export function pushTopics(bus: ServiceBus): PushTopic[] {
  return [...libraryTopics, ...playlistTopics(bus)];
}
