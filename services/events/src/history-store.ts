// The listening history and annotations as the events service stores them: the port the service uses, and its SQL
// implementation (the same queries on SQLite and PostgreSQL).
import type { Db, Kysely } from "@soundmesh/db";
import type { AnnotatedKind, PlayRecord, SavedQueue, TopEntry } from "@soundmesh/protocol";
import { createSqlKeepsakesStore, type KeepsakesStore } from "./keepsakes-store";

export interface CountedPlay extends PlayRecord {
  userId: string;
}

export interface ItemMarks {
  starredAt: number | null;
  rating: number | null;
}

export interface ItemPlays {
  playCount: number;
  lastPlayedAt: number | null;
}

export interface QueueToSave {
  trackIds: string[];
  currentIndex: number;
  positionMs: number;
  device: string;
  updatedAt: number;
}

export interface HistoryStore extends KeepsakesStore {
  /** Stores plays; a play whose event id is stored already is left out. Answers how many were new. */
  insertPlays(plays: CountedPlay[]): Promise<number>;
  recentlyPlayed(userId: string, limit: number): Promise<PlayRecord[]>;
  playsOf(userId: string, kind: AnnotatedKind, ids: string[]): Promise<Map<string, ItemPlays>>;
  marksOf(userId: string, kind: AnnotatedKind, ids: string[]): Promise<Map<string, ItemMarks>>;
  setMarks(userId: string, kind: AnnotatedKind, id: string, patch: Partial<ItemMarks>): Promise<void>;
  /** Ids of the starred items, most recently starred first. */
  starred(userId: string, kind: AnnotatedKind, limit: number): Promise<string[]>;
  /** Ids of the rated items, best rated first (ties by id, so pages are stable). */
  rated(userId: string, kind: AnnotatedKind, limit: number): Promise<string[]>;
  /** Most played since `since`: one user's plays, or everyone's when `userId` is null. */
  top(kind: AnnotatedKind, userId: string | null, since: number, limit: number): Promise<TopEntry[]>;
  loadQueue(userId: string): Promise<SavedQueue | null>;
  /** Saves when the stored revision is `baseRevision` (0: none stored); null when another save came first. */
  saveQueue(userId: string, queue: QueueToSave, baseRevision: number): Promise<SavedQueue | null>;
}

interface HistoryTables {
  events_plays: {
    event_id: string;
    user_id: string;
    track_id: string;
    album_id: string | null;
    artist_id: string | null;
    played_at: number;
    played_ms: number;
  };
  events_annotations: {
    user_id: string;
    kind: string;
    item_id: string;
    starred_at: number | null;
    rating: number | null;
  };
  events_queues: {
    user_id: string;
    track_ids: string;
    current_index: number;
    position_ms: number;
    device: string;
    updated_at: number;
    revision: number;
  };
}

const columnOf = { track: "track_id", album: "album_id", artist: "artist_id" } as const;
const INSERT_CHUNK = 200;

export function createSqlHistoryStore(db: Db): HistoryStore {
  const kysely = db.kysely as Kysely<HistoryTables>;
  return {
    ...createSqlKeepsakesStore(db),
    async insertPlays(plays) {
      let inserted = 0;
      for (let start = 0; start < plays.length; start += INSERT_CHUNK) {
        const rows = plays.slice(start, start + INSERT_CHUNK).map((play) => ({
          event_id: play.eventId,
          user_id: play.userId,
          track_id: play.trackId,
          album_id: play.albumId,
          artist_id: play.artistId,
          played_at: play.playedAt,
          played_ms: play.playedMs,
        }));
        const result = await kysely
          .insertInto("events_plays")
          .values(rows)
          .onConflict((conflict) => conflict.column("event_id").doNothing())
          .executeTakeFirst();
        inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
      }
      return inserted;
    },
    async recentlyPlayed(userId, limit) {
      const rows = await kysely
        .selectFrom("events_plays")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("played_at", "desc")
        .orderBy("event_id", "desc")
        .limit(limit)
        .execute();
      return rows.map((row) => ({
        eventId: row.event_id,
        trackId: row.track_id,
        albumId: row.album_id,
        artistId: row.artist_id,
        playedAt: Number(row.played_at),
        playedMs: Number(row.played_ms),
      }));
    },
    async playsOf(userId, kind, ids) {
      const column = columnOf[kind];
      const rows = await kysely
        .selectFrom("events_plays")
        .select((eb) => [
          eb.ref(column).as("id"),
          eb.fn.countAll<number>().as("plays"),
          eb.fn.max("played_at").as("last"),
        ])
        .where("user_id", "=", userId)
        .where(column, "in", ids)
        .groupBy(column)
        .execute();
      return new Map(
        rows.map((row) => [
          String(row.id),
          { playCount: Number(row.plays), lastPlayedAt: row.last === null ? null : Number(row.last) },
        ]),
      );
    },
    async marksOf(userId, kind, ids) {
      const rows = await kysely
        .selectFrom("events_annotations")
        .selectAll()
        .where("user_id", "=", userId)
        .where("kind", "=", kind)
        .where("item_id", "in", ids)
        .execute();
      return new Map(
        rows.map((row) => [
          row.item_id,
          {
            starredAt: row.starred_at === null ? null : Number(row.starred_at),
            rating: row.rating === null ? null : Number(row.rating),
          },
        ]),
      );
    },
    async setMarks(userId, kind, id, patch) {
      const values: Partial<Pick<HistoryTables["events_annotations"], "starred_at" | "rating">> = {};
      if (patch.starredAt !== undefined) values.starred_at = patch.starredAt;
      if (patch.rating !== undefined) values.rating = patch.rating;
      await kysely
        .insertInto("events_annotations")
        .values({ user_id: userId, kind, item_id: id, starred_at: null, rating: null, ...values })
        .onConflict((conflict) => conflict.columns(["user_id", "kind", "item_id"]).doUpdateSet(values))
        .execute();
    },
    async starred(userId, kind, limit) {
      const rows = await kysely
        .selectFrom("events_annotations")
        .select("item_id")
        .where("user_id", "=", userId)
        .where("kind", "=", kind)
        .where("starred_at", "is not", null)
        .orderBy("starred_at", "desc")
        .limit(limit)
        .execute();
      return rows.map((row) => row.item_id);
    },
    async rated(userId, kind, limit) {
      const rows = await kysely
        .selectFrom("events_annotations")
        .select("item_id")
        .where("user_id", "=", userId)
        .where("kind", "=", kind)
        .where("rating", "is not", null)
        .orderBy("rating", "desc")
        .orderBy("item_id")
        .limit(limit)
        .execute();
      return rows.map((row) => row.item_id);
    },
    async top(kind, userId, since, limit) {
      const column = columnOf[kind];
      let query = kysely
        .selectFrom("events_plays")
        .select((eb) => [
          eb.ref(column).as("id"),
          eb.fn.countAll<number>().as("plays"),
          eb.fn.max("played_at").as("last"),
        ])
        .where("played_at", ">=", since)
        .where(column, "is not", null);
      if (userId !== null) query = query.where("user_id", "=", userId);
      const rows = await query
        .groupBy(column)
        .orderBy("plays", "desc")
        .orderBy("last", "desc")
        .limit(limit)
        .execute();
      return rows.map((row) => ({
        id: String(row.id),
        plays: Number(row.plays),
        lastPlayedAt: Number(row.last),
      }));
    },
    async loadQueue(userId) {
      const row = await kysely
        .selectFrom("events_queues")
        .selectAll()
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (!row) return null;
      return {
        trackIds: JSON.parse(row.track_ids) as string[],
        currentIndex: Number(row.current_index),
        positionMs: Number(row.position_ms),
        device: row.device,
        updatedAt: Number(row.updated_at),
        revision: Number(row.revision),
      };
    },
    async saveQueue(userId, queue, baseRevision) {
      const row = {
        track_ids: JSON.stringify(queue.trackIds),
        current_index: queue.currentIndex,
        position_ms: queue.positionMs,
        device: queue.device,
        updated_at: queue.updatedAt,
        revision: baseRevision + 1,
      };
      // One conditional statement, so two devices saving at once cannot both win.
      const result =
        baseRevision === 0
          ? await kysely
              .insertInto("events_queues")
              .values({ user_id: userId, ...row })
              .onConflict((conflict) => conflict.column("user_id").doNothing())
              .executeTakeFirst()
          : await kysely
              .updateTable("events_queues")
              .set(row)
              .where("user_id", "=", userId)
              .where("revision", "=", baseRevision)
              .executeTakeFirst();
      const changed =
        "numInsertedOrUpdatedRows" in result ? result.numInsertedOrUpdatedRows : result.numUpdatedRows;
      if (Number(changed ?? 0) === 0) return null;
      return { ...queue, revision: baseRevision + 1 };
    },
  };
}
