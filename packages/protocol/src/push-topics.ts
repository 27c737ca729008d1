// The topics a client may follow on the access point's WebSocket (`sub` frames), each with the schema of what it
// pushes, so a client's push handlers are typed and what arrives is checked before it reaches them.
import type { z } from "zod";
import { catalogChangedEvent, scanProgressEvent } from "./catalog";
import { jobProgressEvent } from "./events";
import { myPlaylistsTopic, playlistChangedEvent, playlistTopic } from "./playlist";
import { transcodeProgressEvent } from "./storage";

/** One client topic by name, and the payload of its `push` frames. */
export interface PushTopicRef<P extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly payload: P;
}

export type PushOf<T extends PushTopicRef> = z.output<T["payload"]>;

function topic<P extends z.ZodType>(name: string, payload: P): PushTopicRef<P> {
  return { name, payload };
}

export const pushTopics = {
  /** A scan changed the catalog (everyone). */
  catalogChanged: topic(catalogChangedEvent.topic, catalogChangedEvent.payload),
  /** A scan's progress (administrators). */
  scanProgress: topic(scanProgressEvent.topic, scanProgressEvent.payload),
  /** Transcoding ahead of time: the batch's progress (administrators). */
  transcodeProgress: topic(transcodeProgressEvent.topic, transcodeProgressEvent.payload),
  /** A job run's state and progress (administrators). */
  jobProgress: topic(jobProgressEvent.topic, jobProgressEvent.payload),
  /** The signed-in user's own list of playlists or invitations changed. */
  myPlaylists: topic(myPlaylistsTopic, playlistChangedEvent.payload),
  /** Every change of one playlist the user may see. */
  playlist: (playlistId: string) => topic(playlistTopic(playlistId), playlistChangedEvent.payload),
};
