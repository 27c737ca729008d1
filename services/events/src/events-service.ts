// The events service: serves eventsContract on the bus — stores submitted events once each in the hourly buckets
// (bucket-log.ts), counts the plays among them into the listening history, and keeps stars, ratings and queues.
import type { Logger } from "pino";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import { randomBytes } from "node:crypto";
import {
  AppError,
  MAX_BOOKMARKS_PER_USER,
  MAX_RADIO_STATIONS,
  MAX_SHARES_PER_USER,
  catalogContract,
  eventsContract,
  listeningChangedEvent,
  type AnnotatedKind,
  type Annotation,
  type CallContext,
  type EventsContract,
  type HandlersOf,
  type PeriodName,
  type Share,
  type TrackRecord,
} from "@soundmesh/protocol";
import type { EventLog } from "./bucket-log";
import type { StoredEvent } from "./bucket-files";
import type { CountedPlay, HistoryStore } from "./history-store";
import type { ScrobbleRequest, Scrobbler } from "./scrobbler";
import type { JobRunner } from "./jobs";
import { bucketStem } from "./bucket-files";
import { screenEvents } from "./screen-events";

export const eventsManifest = {
  service: "events",
  calls: ["catalog"],
  publishes: ["events.jobProgress", "events.listeningChanged"],
} as const satisfies ServiceManifest;

export interface TrackPlace {
  albumId: string | null;
  artistId: string | null;
}

export interface EventsServiceDeps {
  logger: Logger;
  /** Already connected with eventsManifest. */
  bus: ServiceBus;
  log: EventLog;
  history: HistoryStore;
  clock: { now(): number };
  /** The log's dedup window: events timed before now minus this are refused. */
  dedupWindowMs: number;
  /** How often the service checks for buckets to close; 0: only when events arrive or tick() runs. */
  closeIntervalMs: number;
  /** Album and artist of tracks, for play counts per album and artist; by default asked of the catalog. */
  placeTracks?: (trackIds: string[]) => Promise<Map<string, TrackPlace>>;
  /** Scrobbling to ListenBrainz and Last.fm; without it the scrobbling methods answer SCROBBLING_NOT_CONFIGURED. */
  scrobbler?: Scrobbler;
  /** How often due scrobbles are sent (besides right after new ones are queued); 0: only then and on tick(). */
  scrobbleIntervalMs?: number;
  /**
   * The job runner: the close timer runs each due bucket's close as a close-bucket job (when registered), and the
   * jobs / runJob methods use it. Without it the timer closes buckets directly.
   */
  jobs?: JobRunner;
  /** Titles and names of tracks for the scrobbles; by default asked of the catalog. */
  describeTracks?: (trackIds: string[]) => Promise<Map<string, TrackNames>>;
}

export interface TrackNames {
  title: string;
  artist: string;
  album: string | null;
  durationMs: number;
}

export interface EventsService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<EventsContract>;
  /** Closes the buckets the watermark has passed (the timer calls this too). */
  tick(): Promise<number[]>;
  /** Sends the scrobbles that are due (the timer calls this too); answers how many were delivered. */
  deliverScrobbles(): Promise<number>;
}

/** A play counts when at least half the track, or four minutes, was heard (the scrobbling rule). */
export function countsAsPlay(playedMs: number, durationMs: number): boolean {
  return playedMs > 0 && playedMs >= Math.min(240_000, durationMs / 2);
}

const periodMs: Record<PeriodName, number> = { week: 7 * 86_400_000, month: 30 * 86_400_000, all: Infinity };

function requireAdmin(ctx: CallContext): string {
  const userId = requireUser(ctx);
  if (ctx.role !== "admin") throw new AppError("FORBIDDEN", "Only administrators may do this");
  return userId;
}

function requireUser(ctx: CallContext): string {
  if (ctx.userId === undefined)
    throw new AppError("UNAUTHENTICATED", "Listening events need a signed-in user");
  return ctx.userId;
}

export function createEventsService(deps: EventsServiceDeps): EventsService {
  const { logger, bus, log, history, clock } = deps;
  const places = new Map<string, TrackPlace>();
  let subscription: Subscription | null = null;
  let timer: NodeJS.Timeout | null = null;

  const { scrobbler } = deps;
  let scrobbleTimer: NodeJS.Timeout | null = null;
  const names = new Map<string, TrackNames>();

  async function catalogTracks<T>(
    trackIds: string[],
    map: (track: TrackRecord) => T,
  ): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    for (let start = 0; start < trackIds.length; start += 500) {
      const tracks = await bus.request(catalogContract, "tracks", {
        trackIds: trackIds.slice(start, start + 500),
      });
      for (const track of tracks) found.set(track.id, map(track));
    }
    return found;
  }
  const placeTracks =
    deps.placeTracks ??
    ((trackIds: string[]) =>
      catalogTracks(trackIds, (track) => ({ albumId: track.albumId, artistId: track.artistId })));
  const describeTracks =
    deps.describeTracks ??
    ((trackIds: string[]) =>
      catalogTracks(trackIds, (track) => ({
        title: track.title,
        artist: track.artist,
        album: track.album || null,
        durationMs: track.durationMs,
      })));

  /** Closes the due buckets: each as a recorded close-bucket job when the runner has it, else directly. */
  async function closeDueBuckets(): Promise<number[]> {
    const runner = deps.jobs;
    if (!runner?.has("close-bucket")) return log.closeDue();
    const due = log.dueHours();
    for (const hourStart of due) await runner.run("close-bucket", { hour: bucketStem(hourStart) });
    return due;
  }

  function requireJobs(): JobRunner {
    if (!deps.jobs) throw new AppError("UNAVAILABLE", "This server runs no jobs");
    return deps.jobs;
  }

  function requireScrobbler(): Scrobbler {
    if (!scrobbler)
      throw new AppError("SCROBBLING_NOT_CONFIGURED", "Scrobbling is not set up on this server");
    return scrobbler;
  }

  /** Queues "now playing" for play starts and a scrobble for each play that counts, for users with a sink on. */
  async function queueScrobbles(stored: StoredEvent[]): Promise<void> {
    if (!scrobbler) return;
    const wanted = stored.filter(
      ({ event, userId }) =>
        scrobbler.wants(userId) &&
        (event.type === "play.started" ||
          (event.type === "play.ended" && countsAsPlay(event.playedMs, event.durationMs))),
    );
    if (wanted.length === 0) return;
    const unknown = [...new Set(wanted.map(({ event }) => event.trackId))].filter((id) => !names.has(id));
    if (unknown.length > 0) for (const [id, track] of await describeTracks(unknown)) names.set(id, track);
    const requests: ScrobbleRequest[] = [];
    for (const { event, userId } of wanted) {
      const track = names.get(event.trackId);
      // A track the catalog does not know has no title or artist to send.
      if (!track) continue;
      const item = {
        artist: track.artist,
        track: track.title,
        album: track.album,
        durationMs: track.durationMs,
      };
      if (event.type === "play.ended")
        requests.push({
          userId,
          eventId: event.id,
          kind: "scrobble",
          item: { ...item, startedAt: event.at - event.playedMs },
        });
      else
        requests.push({
          userId,
          eventId: event.id,
          kind: "now_playing",
          item: { ...item, startedAt: event.at },
        });
    }
    await scrobbler.enqueue(requests);
    if (requests.length > 0) void deliverScrobbles();
  }

  function deliverScrobbles(): Promise<number> {
    if (!scrobbler) return Promise.resolve(0);
    return scrobbler.deliverDue().catch((error: unknown) => {
      logger.error({ err: error }, "sending scrobbles failed");
      return 0;
    });
  }

  /** Counts the plays among stored events into the history; replaying events already counted adds nothing. */
  async function countPlays(stored: StoredEvent[]): Promise<void> {
    const plays = stored.flatMap(({ event, userId }) =>
      event.type === "play.ended" && countsAsPlay(event.playedMs, event.durationMs)
        ? [{ event, userId }]
        : [],
    );
    if (plays.length === 0) return;
    const unknown = [...new Set(plays.map(({ event }) => event.trackId))].filter((id) => !places.has(id));
    if (unknown.length > 0) {
      const found = await placeTracks(unknown).catch((error: unknown) => {
        logger.warn({ err: error }, "could not place tracks in albums and artists; counting the tracks only");
        return new Map<string, TrackPlace>();
      });
      // Tracks the catalog does not know are counted as tracks; only what it knows is remembered.
      for (const [id, place] of found) places.set(id, place);
    }
    const rows: CountedPlay[] = plays.map(({ event, userId }) => ({
      eventId: event.id,
      userId,
      trackId: event.trackId,
      albumId: places.get(event.trackId)?.albumId ?? null,
      artistId: places.get(event.trackId)?.artistId ?? null,
      playedAt: event.at,
      playedMs: event.playedMs,
    }));
    if ((await history.insertPlays(rows)) > 0) announceListening([...new Set(rows.map((row) => row.userId))]);
  }

  /** Tells who follows listening (smart playlists) whose plays, stars or ratings changed; best effort. */
  function announceListening(userIds: string[]): void {
    bus
      .publish(listeningChangedEvent, { userIds })
      .catch((error: unknown) => logger.warn({ err: error }, "listening change not published"));
  }

  /** The caller's share (an administrator may manage anyone's); NOT_FOUND otherwise, so ids are not probed. */
  async function ownShare(shareId: string, ctx: CallContext): Promise<Share> {
    const userId = requireUser(ctx);
    const share = await history.share(shareId);
    if (!share || (share.ownerId !== userId && ctx.role !== "admin"))
      throw new AppError("NOT_FOUND", "No such share");
    return share;
  }

  async function annotationsOf(userId: string, kind: AnnotatedKind, ids: string[]): Promise<Annotation[]> {
    const [marks, plays] = await Promise.all([
      history.marksOf(userId, kind, ids),
      history.playsOf(userId, kind, ids),
    ]);
    return ids.map((id) => ({
      kind,
      id,
      starredAt: marks.get(id)?.starredAt ?? null,
      rating: marks.get(id)?.rating ?? null,
      playCount: plays.get(id)?.playCount ?? 0,
      lastPlayedAt: plays.get(id)?.lastPlayedAt ?? null,
    }));
  }

  const handlers: HandlersOf<EventsContract> = {
    async submit({ events }, ctx) {
      const userId = requireUser(ctx);
      const screened = screenEvents(events, clock.now(), deps.dedupWindowMs);
      const result = await log.append(screened.events.map((event) => ({ event, userId })));
      // Durable in the log now; the history and the scrobble queue catch up from the log at start should this fail.
      await countPlays(result.accepted);
      await queueScrobbles(result.accepted).catch((error: unknown) =>
        logger.warn(
          { err: error },
          "could not queue scrobbles; they are queued from the log at the next start",
        ),
      );
      return {
        accepted: result.accepted.length,
        duplicates: result.duplicates,
        late: result.late,
        refused: screened.refused,
      };
    },
    buckets: ({ limit }) => log.stats(limit),
    recentlyPlayed: ({ limit }, ctx) => history.recentlyPlayed(requireUser(ctx), limit),
    annotations: ({ kind, ids }, ctx) => annotationsOf(requireUser(ctx), kind, ids),
    async setStar({ kind, id, starred }, ctx) {
      const userId = requireUser(ctx);
      await history.setMarks(userId, kind, id, { starredAt: starred ? clock.now() : null });
      announceListening([userId]);
      return (await annotationsOf(userId, kind, [id]))[0]!;
    },
    async setRating({ kind, id, rating }, ctx) {
      const userId = requireUser(ctx);
      await history.setMarks(userId, kind, id, { rating });
      announceListening([userId]);
      return (await annotationsOf(userId, kind, [id]))[0]!;
    },
    async starred({ kind, limit }, ctx) {
      const userId = requireUser(ctx);
      const ids = await history.starred(userId, kind, limit);
      return ids.length === 0 ? [] : annotationsOf(userId, kind, ids);
    },
    async rated({ kind, limit }, ctx) {
      const userId = requireUser(ctx);
      const ids = await history.rated(userId, kind, limit);
      return ids.length === 0 ? [] : annotationsOf(userId, kind, ids);
    },
    top({ kind, period, scope, limit }, ctx) {
      const userId = requireUser(ctx);
      const since = period === "all" ? 0 : clock.now() - periodMs[period];
      return history.top(kind, scope === "server" ? null : userId, since, limit);
    },
    async saveQueue({ baseRevision, ...queue }, ctx) {
      const userId = requireUser(ctx);
      if (queue.trackIds.length > 0 && queue.currentIndex >= queue.trackIds.length)
        throw new AppError("VALIDATION_FAILED", "currentIndex is past the end of the queue");
      const saved = await history.saveQueue(userId, { ...queue, updatedAt: clock.now() }, baseRevision);
      if (saved) return saved;
      const current = await history.loadQueue(userId);
      throw new AppError("CONFLICT", "Another device saved the queue since this one loaded it", {
        details: { revision: current?.revision ?? 0 },
      });
    },
    loadQueue: (_params, ctx) => history.loadQueue(requireUser(ctx)),
    scrobbleStatus: (_params, ctx) => requireScrobbler().status(requireUser(ctx)),
    setListenBrainzToken: ({ token }, ctx) =>
      requireScrobbler().setListenBrainzToken(requireUser(ctx), token),
    lastFmAuthStart: (_params, ctx) => requireScrobbler().lastFmAuthStart(requireUser(ctx)),
    lastFmAuthFinish: (_params, ctx) => requireScrobbler().lastFmAuthFinish(requireUser(ctx)),
    setScrobbling: ({ sink, enabled, disconnect }, ctx) =>
      requireScrobbler().setScrobbling(requireUser(ctx), sink, enabled, disconnect),
    retryDeadScrobbles: ({ sink }, ctx) => requireScrobbler().retryDead(requireUser(ctx), sink),
    bookmarks: (_params, ctx) => history.bookmarks(requireUser(ctx)),
    async saveBookmark({ trackId, positionMs, comment }, ctx) {
      const userId = requireUser(ctx);
      if (
        (await history.countBookmarks(userId)) >= MAX_BOOKMARKS_PER_USER &&
        !(await history.bookmarks(userId)).some((bookmark) => bookmark.trackId === trackId)
      )
        throw new AppError("CONFLICT", `At most ${MAX_BOOKMARKS_PER_USER} bookmarks; delete some first`);
      return history.saveBookmark(userId, trackId, positionMs, comment, clock.now());
    },
    deleteBookmark: async ({ trackId }, ctx) => ({
      deleted: await history.deleteBookmark(requireUser(ctx), trackId),
    }),
    radioStations: (_params, ctx) => {
      requireUser(ctx);
      return history.stations();
    },
    async createRadioStation(fields, ctx) {
      requireAdmin(ctx);
      if ((await history.countStations()) >= MAX_RADIO_STATIONS)
        throw new AppError("CONFLICT", `At most ${MAX_RADIO_STATIONS} radio stations`);
      return history.insertStation(randomBytes(9).toString("base64url"), fields, clock.now());
    },
    async updateRadioStation({ stationId, ...fields }, ctx) {
      requireAdmin(ctx);
      const updated = await history.updateStation(stationId, fields, clock.now());
      if (!updated) throw new AppError("NOT_FOUND", "No such radio station");
      return updated;
    },
    async deleteRadioStation({ stationId }, ctx) {
      requireAdmin(ctx);
      return { deleted: await history.deleteStation(stationId) };
    },
    async createShare({ trackIds, description, expiresAt }, ctx) {
      const ownerId = requireUser(ctx);
      if ((await history.countShares(ownerId)) >= MAX_SHARES_PER_USER)
        throw new AppError("CONFLICT", `At most ${MAX_SHARES_PER_USER} shares; delete some first`);
      const now = clock.now();
      if (expiresAt !== null && expiresAt <= now)
        throw new AppError("VALIDATION_FAILED", "expiresAt is in the past");
      const share: Share = {
        // 128 random bits: the link's secret, which nobody can guess or enumerate.
        id: randomBytes(16).toString("base64url"),
        ownerId,
        trackIds: [...new Set(trackIds)],
        description,
        createdAt: now,
        expiresAt,
        lastVisitedAt: null,
        visitCount: 0,
      };
      await history.insertShare(share);
      return share;
    },
    shares: (_params, ctx) => history.sharesOf(requireUser(ctx)),
    async updateShare({ shareId, description, expiresAt }, ctx) {
      await ownShare(shareId, ctx);
      await history.updateShare(shareId, { description, expiresAt });
      return (await history.share(shareId))!;
    },
    async deleteShare({ shareId }, ctx) {
      await ownShare(shareId, ctx);
      return { deleted: await history.deleteShare(shareId) };
    },
    async openShare({ shareId, visit }) {
      const share = await history.share(shareId);
      if (!share) throw new AppError("NOT_FOUND", "No such share");
      if (share.expiresAt !== null && share.expiresAt <= clock.now())
        throw new AppError("GONE", "The share has expired");
      if (!visit) return share;
      const now = clock.now();
      await history.visitShare(shareId, now);
      return { ...share, visitCount: share.visitCount + 1, lastVisitedAt: now };
    },
    async jobs({ limit }) {
      const runner = requireJobs();
      return { jobs: runner.jobs(), runs: await runner.runs(limit) };
    },
    runJob: ({ name, params }) => requireJobs().run(name, params),
  };

  return {
    handlers,
    tick: closeDueBuckets,
    deliverScrobbles,
    async start() {
      if (subscription) return;
      await scrobbler?.start();
      const replay = await log.open();
      await countPlays(replay);
      await queueScrobbles(replay).catch((error: unknown) =>
        logger.warn({ err: error }, "could not queue the scrobbles of replayed events"),
      );
      subscription = await bus.serve(eventsContract, handlers);
      if (deps.closeIntervalMs > 0) {
        timer = setInterval(() => {
          closeDueBuckets().catch((error: unknown) =>
            logger.error({ err: error }, "closing event buckets failed"),
          );
        }, deps.closeIntervalMs);
        timer.unref();
      }
      if (scrobbler && (deps.scrobbleIntervalMs ?? 0) > 0) {
        scrobbleTimer = setInterval(() => void deliverScrobbles(), deps.scrobbleIntervalMs);
        scrobbleTimer.unref();
      }
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      if (scrobbleTimer) clearInterval(scrobbleTimer);
      scrobbleTimer = null;
      const current = subscription;
      subscription = null;
      await current?.unsubscribe();
      deps.jobs?.close();
      await log.close();
    },
  };
}
