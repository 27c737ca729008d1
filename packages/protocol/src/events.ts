// Contract of the events service: typed, versioned listening events with client-made ids, the hourly buckets they
// land in, and the listening history and annotations (stars, ratings, the saved play queue) built from them.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";
import { trackId } from "./stream";

/** A client-made id: a UUID (version 7 recommended, so ids sort by creation time). Duplicates are dropped by it. */
export const eventId = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "a lower-case UUID");
const ms = z
  .number()
  .int()
  .min(0)
  .max(24 * 3_600_000);
const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const deliverySource = z.enum(["cache", "peer", "server"]);

/** Fields every event has. `at` is the event time (epoch ms, the client's clock) that picks its hourly bucket. */
const envelope = {
  v: z.literal(1),
  id: eventId,
  at: z.number().int().min(0),
  trackId,
};

export const playStartedEvent = z.object({
  ...envelope,
  type: z.literal("play.started"),
  /** Where the play was started from: an album, a playlist, radio… free text, bounded. */
  context: z.string().max(128).optional(),
});
export const playEndedEvent = z.object({
  ...envelope,
  type: z.literal("play.ended"),
  /** The part heard: milliseconds actually played (seeks over a part do not count it). */
  playedMs: ms,
  durationMs: ms,
  reason: z.enum(["finished", "skipped", "stopped", "error"]),
});
export const skipEvent = z.object({ ...envelope, type: z.literal("skip"), positionMs: ms });
export const seekEvent = z.object({ ...envelope, type: z.literal("seek"), fromMs: ms, toMs: ms });
export const stutterEvent = z.object({
  ...envelope,
  type: z.literal("stutter"),
  positionMs: ms,
  stalledMs: ms,
});
export const startLatencyEvent = z.object({
  ...envelope,
  type: z.literal("start.latency"),
  latencyMs: ms,
  firstPieceFrom: deliverySource,
});
export const sourceBytesEvent = z.object({
  ...envelope,
  type: z.literal("source.bytes"),
  cacheBytes: bytes,
  peerBytes: bytes,
  serverBytes: bytes,
});

export const listeningEvent = z.discriminatedUnion("type", [
  playStartedEvent,
  playEndedEvent,
  skipEvent,
  seekEvent,
  stutterEvent,
  startLatencyEvent,
  sourceBytesEvent,
]);
export type ListeningEvent = z.infer<typeof listeningEvent>;
export type ListeningEventType = ListeningEvent["type"];
export type PlayEnded = z.infer<typeof playEndedEvent>;

/** At most this many events in one submission; a client sends its queue in batches of this size. */
export const MAX_EVENTS_PER_SUBMIT = 500;
/** Events timed further ahead of the server's clock than this are refused (EVENT_TIME_OUT_OF_RANGE). */
export const MAX_EVENT_CLOCK_AHEAD_MS = 5 * 60_000;

/** Why one event of a batch was refused: it will never be accepted, so the client drops it. */
export const refusedEvent = z.object({
  index: z.number().int(),
  id: z.string().nullable(),
  code: z.enum(["BAD_EVENT", "EVENT_TIME_OUT_OF_RANGE"]),
  message: z.string(),
});
export type RefusedEvent = z.infer<typeof refusedEvent>;

export const submitResult = z.object({
  /** Newly stored events (durable on disk when this answer is sent). */
  accepted: z.number().int(),
  /** Events already stored before (a retry): dropped, acknowledged again. */
  duplicates: z.number().int(),
  /** Of the accepted, those whose hour was already closed: stored in the next open bucket as late. */
  late: z.number().int(),
  refused: z.array(refusedEvent),
});
export type SubmitResult = z.infer<typeof submitResult>;

export const bucketStats = z.object({
  /** Start of the hour, epoch ms; the bucket holds events timed in [hourStart, hourStart + 1 h). */
  hourStart: z.number().int(),
  state: z.enum(["open", "closed"]),
  /** Events stored in this bucket, late ones included. */
  count: z.number().int(),
  duplicatesDropped: z.number().int(),
  /** Events stored here whose own hour had already closed. */
  late: z.number().int(),
  /** count of on-time events / (on-time + events of this hour that arrived late into later buckets); 1 when empty. */
  completeness: z.number().min(0).max(1),
  closedAt: z.number().int().nullable(),
});
export type BucketStats = z.infer<typeof bucketStats>;

export const periodName = z.enum(["week", "month", "all"]);
export type PeriodName = z.infer<typeof periodName>;
export const annotatedKind = z.enum(["track", "album", "artist"]);
export type AnnotatedKind = z.infer<typeof annotatedKind>;
const itemId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "an id");

export const playRecord = z.object({
  eventId: z.string(),
  trackId: z.string(),
  albumId: z.string().nullable(),
  artistId: z.string().nullable(),
  playedAt: z.number().int(),
  playedMs: z.number().int(),
});
export type PlayRecord = z.infer<typeof playRecord>;

export const annotation = z.object({
  kind: annotatedKind,
  id: z.string(),
  starredAt: z.number().int().nullable(),
  rating: z.number().int().min(1).max(5).nullable(),
  playCount: z.number().int(),
  lastPlayedAt: z.number().int().nullable(),
});
export type Annotation = z.infer<typeof annotation>;

export const topEntry = z.object({ id: z.string(), plays: z.number().int(), lastPlayedAt: z.number().int() });
export type TopEntry = z.infer<typeof topEntry>;

export const savedQueue = z.object({
  trackIds: z.array(trackId).max(5_000),
  currentIndex: z.number().int().min(0).max(5_000),
  positionMs: ms,
  /** Which device saved it last (free text, e.g. "Firefox on laptop"). */
  device: z.string().max(100),
  updatedAt: z.number().int(),
  /** Increases with every save: a device that saved on an older revision is refused (CONFLICT). */
  revision: z.number().int(),
});
export type SavedQueue = z.infer<typeof savedQueue>;

/** A place saved in a track (Subsonic's bookmarks): one per user and track. */
export const bookmark = z.object({
  trackId: z.string(),
  positionMs: z.number().int(),
  comment: z.string(),
  createdAt: z.number().int(),
  changedAt: z.number().int(),
});
export type Bookmark = z.infer<typeof bookmark>;
/** At most this many bookmarks per user; saving one more is refused (CONFLICT). */
export const MAX_BOOKMARKS_PER_USER = 1_000;

const stationId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "an id");
/** Only http(s) addresses: a station is opened by apps, never a file: or javascript: URL. */
const webUrl = z
  .string()
  .trim()
  .max(2_000)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, "an http or https URL");

/** An internet radio station the administrators keep for everyone (Subsonic's internetRadioStation). */
export const radioStation = z.object({
  id: z.string(),
  name: z.string(),
  streamUrl: z.string(),
  homepageUrl: z.string().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});
export type RadioStation = z.infer<typeof radioStation>;
const stationFields = {
  name: z.string().trim().min(1).max(200),
  streamUrl: webUrl,
  homepageUrl: webUrl.nullable().default(null),
};
export const MAX_RADIO_STATIONS = 1_000;

/** A share's id: 128 random bits (base64url), the secret of its public link. */
export const shareId = z.string().regex(/^[A-Za-z0-9_-]{22}$/, "a share id");
/** A public link to some tracks, playable without signing in until it expires. */
export const share = z.object({
  id: z.string(),
  ownerId: z.string(),
  /** The shared tracks, fixed when the share is made (an album or playlist is shared as its tracks then). */
  trackIds: z.array(z.string()),
  description: z.string(),
  createdAt: z.number().int(),
  expiresAt: z.number().int().nullable(),
  lastVisitedAt: z.number().int().nullable(),
  visitCount: z.number().int(),
});
export type Share = z.infer<typeof share>;
export const MAX_SHARE_TRACKS = 500;
export const MAX_SHARES_PER_USER = 1_000;
const shareFields = {
  description: z.string().max(500),
  /** Epoch ms; null: never. */
  expiresAt: z.number().int().min(0).max(8_640_000_000_000_000).nullable(),
};

/** The scrobbling services a user can send plays to. */
export const scrobbleSinkName = z.enum(["listenbrainz", "lastfm"]);
export type ScrobbleSinkName = z.infer<typeof scrobbleSinkName>;

/** One user's view of one scrobbling sink, for Settings. */
export const scrobbleSinkStatus = z.object({
  sink: scrobbleSinkName,
  /** The server can talk to it (Last.fm needs the server's API key and secret). */
  available: z.boolean(),
  /** off: not connected; ok: sending; bad_token: the service refused the token (nothing is sent until replaced);
   * awaiting_approval: a Last.fm sign-in was started and waits for the user's approval. */
  state: z.enum(["off", "ok", "bad_token", "awaiting_approval"]),
  enabled: z.boolean(),
  username: z.string().nullable(),
  /** Scrobbles and "now playing" notices waiting to be sent, and those given up on (the dead letters). */
  queued: z.number().int(),
  dead: z.number().int(),
  lastError: z.string().nullable(),
  lastDeliveredAt: z.number().int().nullable(),
});
export type ScrobbleSinkStatus = z.infer<typeof scrobbleSinkStatus>;

/** One run of a job (the job runner, services/events/src/jobs.ts): what ran, with which parameters, how far it got. */
export const jobRun = z.object({
  id: z.string(),
  job: z.string(),
  params: z.record(z.string(), z.string()),
  state: z.enum(["pending", "running", "done", "failed"]),
  /** 0 to 1. */
  progress: z.number().min(0).max(1),
  note: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.number().int(),
  startedAt: z.number().int().nullable(),
  finishedAt: z.number().int().nullable(),
  /** Who ran it: "server" or "cli". */
  runner: z.string(),
});
export type JobRun = z.infer<typeof jobRun>;

/** The jobs the runner knows: name, what it does, its parameters. */
export const jobInfo = z.object({ name: z.string(), description: z.string(), params: z.array(z.string()) });
export type JobInfo = z.infer<typeof jobInfo>;

/** A job run's state and progress, pushed to administrators as it changes. */
export const jobProgressEvent = defineEvent("events.jobProgress", jobRun);

/** Listeners whose plays, stars or ratings changed (smart playlists on listening follow it). */
export const listeningChangedEvent = defineEvent(
  "events.listeningChanged",
  z.object({ userIds: z.array(z.string().min(1).max(64)).min(1).max(1_000) }),
);

const jobParams = z
  .record(z.string().regex(/^[a-z][a-zA-Z0-9]{0,31}$/), z.string().max(200))
  .refine((params) => Object.keys(params).length <= 8, "at most 8 parameters");

export const eventsContract = defineService("events", {
  /** Stores a batch of the caller's events, once each; answers only when they are durable. */
  submit: {
    params: z.object({ events: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_SUBMIT) }),
    result: submitResult,
    exposed: true,
  },
  /** Per-bucket figures, newest first. */
  buckets: {
    params: z.object({
      limit: z
        .number()
        .int()
        .min(1)
        .max(24 * 90)
        .default(48),
    }),
    result: z.array(bucketStats),
    exposed: true,
    adminOnly: true,
  },
  recentlyPlayed: {
    params: z.object({ limit: z.number().int().min(1).max(500).default(50) }),
    result: z.array(playRecord),
    exposed: true,
  },
  /** The caller's stars, ratings, play counts and last plays of these items. */
  annotations: {
    params: z.object({ kind: annotatedKind, ids: z.array(itemId).min(1).max(500) }),
    result: z.array(annotation),
    exposed: true,
  },
  setStar: {
    params: z.object({ kind: annotatedKind, id: itemId, starred: z.boolean() }),
    result: annotation,
    exposed: true,
  },
  /** A 1–5 rating; null clears it. */
  setRating: {
    params: z.object({ kind: annotatedKind, id: itemId, rating: z.number().int().min(1).max(5).nullable() }),
    result: annotation,
    exposed: true,
  },
  starred: {
    params: z.object({ kind: annotatedKind, limit: z.number().int().min(1).max(500).default(100) }),
    result: z.array(annotation),
    exposed: true,
  },
  /** The caller's rated items, best rated first (Subsonic's "highest" album list). */
  rated: {
    params: z.object({ kind: annotatedKind, limit: z.number().int().min(1).max(500).default(100) }),
    result: z.array(annotation),
    exposed: true,
  },
  /** Most played in the period: the caller's, or the whole server's (`scope: "server"`). */
  top: {
    params: z.object({
      kind: annotatedKind,
      period: periodName,
      scope: z.enum(["me", "server"]).default("me"),
      limit: z.number().int().min(1).max(100).default(10),
    }),
    result: z.array(topEntry),
    exposed: true,
  },
  /** Saves the caller's play queue; `baseRevision` is the revision the device last loaded or saved (0: none). */
  saveQueue: {
    params: z.object({
      trackIds: z.array(trackId).max(5_000),
      currentIndex: z.number().int().min(0).max(5_000),
      positionMs: ms,
      device: z.string().max(100),
      baseRevision: z.number().int().min(0),
    }),
    result: savedQueue,
    exposed: true,
  },
  /** The caller's saved play queue, or null when none was saved. */
  loadQueue: { params: z.object({}), result: savedQueue.nullable(), exposed: true },
  /** The caller's bookmarks, most recently changed first. */
  bookmarks: { params: z.object({}), result: z.array(bookmark), exposed: true },
  /** Creates or moves the caller's bookmark in a track. */
  saveBookmark: {
    params: z.object({ trackId, positionMs: ms, comment: z.string().max(1_000).default("") }),
    result: bookmark,
    exposed: true,
  },
  deleteBookmark: {
    params: z.object({ trackId }),
    result: z.object({ deleted: z.boolean() }),
    exposed: true,
  },
  /** The internet radio stations, by name. */
  radioStations: { params: z.object({}), result: z.array(radioStation), exposed: true },
  createRadioStation: {
    params: z.object(stationFields),
    result: radioStation,
    exposed: true,
    adminOnly: true,
  },
  updateRadioStation: {
    params: z.object({ stationId, ...stationFields }),
    result: radioStation,
    exposed: true,
    adminOnly: true,
  },
  deleteRadioStation: {
    params: z.object({ stationId }),
    result: z.object({ deleted: z.boolean() }),
    exposed: true,
    adminOnly: true,
  },
  /** Makes a public link to these tracks; its id is the link's secret. */
  createShare: {
    params: z.object({
      trackIds: z.array(trackId).min(1).max(MAX_SHARE_TRACKS),
      description: shareFields.description.default(""),
      expiresAt: shareFields.expiresAt.default(null),
    }),
    result: share,
    exposed: true,
  },
  /** The caller's shares, newest first (expired ones too, until deleted). */
  shares: { params: z.object({}), result: z.array(share), exposed: true },
  updateShare: {
    params: z.object({
      shareId,
      description: shareFields.description.optional(),
      expiresAt: shareFields.expiresAt.optional(),
    }),
    result: share,
    exposed: true,
  },
  deleteShare: { params: z.object({ shareId }), result: z.object({ deleted: z.boolean() }), exposed: true },
  /**
   * Internal (the public share page): the share by its secret id, counting the visit when `visit`; NOT_FOUND for
   * an unknown id, GONE once expired.
   */
  openShare: { params: z.object({ shareId, visit: z.boolean().default(false) }), result: share },
  /** The caller's scrobbling sinks (ListenBrainz, Last.fm): connected or not, queue and dead letters. */
  scrobbleStatus: { params: z.object({}), result: z.array(scrobbleSinkStatus), exposed: true },
  /** Connects ListenBrainz with the user's token (checked with ListenBrainz first); null disconnects. */
  setListenBrainzToken: {
    params: z.object({ token: z.string().trim().min(1).max(200).nullable() }),
    result: scrobbleSinkStatus,
    exposed: true,
  },
  /** Starts the Last.fm sign-in: the user opens `authUrl`, approves, then calls lastFmAuthFinish. */
  lastFmAuthStart: {
    params: z.object({}),
    result: z.object({ authUrl: z.string(), token: z.string() }),
    exposed: true,
  },
  /** Trades the approved token for a Last.fm session key. */
  lastFmAuthFinish: { params: z.object({}), result: scrobbleSinkStatus, exposed: true },
  /** Turns a connected sink on or off (off: nothing new is queued); `disconnect` forgets the credentials too. */
  setScrobbling: {
    params: z.object({
      sink: scrobbleSinkName,
      enabled: z.boolean(),
      disconnect: z.boolean().default(false),
    }),
    result: scrobbleSinkStatus,
    exposed: true,
  },
  /** Puts the dead letters of a sink back in its queue. */
  retryDeadScrobbles: {
    params: z.object({ sink: scrobbleSinkName }),
    result: scrobbleSinkStatus,
    exposed: true,
  },
  /** The jobs the server can run, and the latest runs, newest first. */
  jobs: {
    params: z.object({ limit: z.number().int().min(1).max(500).default(50) }),
    result: z.object({ jobs: z.array(jobInfo), runs: z.array(jobRun) }),
    exposed: true,
    adminOnly: true,
  },
  /** Runs a job (and what it needs) unless its output exists: the run once finished, null when nothing ran. */
  runJob: {
    params: z.object({ name: z.string().min(1).max(64), params: jobParams.default({}) }),
    result: jobRun.nullable(),
    exposed: true,
    adminOnly: true,
  },
});
export type EventsContract = typeof eventsContract;
