// What users keep beside their listening history, as the events service stores it: bookmarks in tracks, the
// server's internet radio stations, and public shares of tracks. The same queries on SQLite and PostgreSQL.
import type { Db, Kysely } from "@soundmesh/db";
import type { Bookmark, RadioStation, Share } from "@soundmesh/protocol";

export interface StationFields {
  name: string;
  streamUrl: string;
  homepageUrl: string | null;
}

export interface KeepsakesStore {
  bookmarks(userId: string): Promise<Bookmark[]>;
  countBookmarks(userId: string): Promise<number>;
  /** Creates or moves the bookmark; the creation time of an existing one is kept. */
  saveBookmark(
    userId: string,
    trackId: string,
    positionMs: number,
    comment: string,
    now: number,
  ): Promise<Bookmark>;
  deleteBookmark(userId: string, trackId: string): Promise<boolean>;
  stations(): Promise<RadioStation[]>;
  countStations(): Promise<number>;
  station(id: string): Promise<RadioStation | null>;
  insertStation(id: string, fields: StationFields, now: number): Promise<RadioStation>;
  /** null when there is no such station. */
  updateStation(id: string, fields: StationFields, now: number): Promise<RadioStation | null>;
  deleteStation(id: string): Promise<boolean>;
  insertShare(share: Share): Promise<void>;
  share(id: string): Promise<Share | null>;
  sharesOf(ownerId: string): Promise<Share[]>;
  countShares(ownerId: string): Promise<number>;
  updateShare(
    id: string,
    patch: { description?: string | undefined; expiresAt?: number | null | undefined },
  ): Promise<void>;
  deleteShare(id: string): Promise<boolean>;
  /** Counts a visit of the share. */
  visitShare(id: string, now: number): Promise<void>;
}

interface KeepsakeTables {
  events_bookmarks: {
    user_id: string;
    track_id: string;
    position_ms: number;
    comment: string;
    created_at: number;
    changed_at: number;
  };
  events_radio_stations: {
    id: string;
    name: string;
    stream_url: string;
    homepage_url: string | null;
    created_at: number;
    updated_at: number;
  };
  events_shares: {
    id: string;
    owner_id: string;
    track_ids: string;
    description: string;
    created_at: number;
    expires_at: number | null;
    last_visited_at: number | null;
    visit_count: number;
  };
}

const nullableNumber = (value: number | string | null) => (value === null ? null : Number(value));

function bookmarkOf(row: KeepsakeTables["events_bookmarks"]): Bookmark {
  return {
    trackId: row.track_id,
    positionMs: Number(row.position_ms),
    comment: row.comment,
    createdAt: Number(row.created_at),
    changedAt: Number(row.changed_at),
  };
}

function stationOf(row: KeepsakeTables["events_radio_stations"]): RadioStation {
  return {
    id: row.id,
    name: row.name,
    streamUrl: row.stream_url,
    homepageUrl: row.homepage_url,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function shareOf(row: KeepsakeTables["events_shares"]): Share {
  return {
    id: row.id,
    ownerId: row.owner_id,
    trackIds: JSON.parse(row.track_ids) as string[],
    description: row.description,
    createdAt: Number(row.created_at),
    expiresAt: nullableNumber(row.expires_at),
    lastVisitedAt: nullableNumber(row.last_visited_at),
    visitCount: Number(row.visit_count),
  };
}

export function createSqlKeepsakesStore(db: Db): KeepsakesStore {
  const kysely = db.kysely as Kysely<KeepsakeTables>;
  const count = async (query: Promise<{ count: number | string | bigint } | undefined>) =>
    Number((await query)?.count ?? 0);
  const store: KeepsakesStore = {
    async bookmarks(userId) {
      const rows = await kysely
        .selectFrom("events_bookmarks")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("changed_at", "desc")
        .orderBy("track_id")
        .execute();
      return rows.map(bookmarkOf);
    },
    countBookmarks: (userId) =>
      count(
        kysely
          .selectFrom("events_bookmarks")
          .select((eb) => eb.fn.countAll<number>().as("count"))
          .where("user_id", "=", userId)
          .executeTakeFirst(),
      ),
    async saveBookmark(userId, trackId, positionMs, comment, now) {
      await kysely
        .insertInto("events_bookmarks")
        .values({
          user_id: userId,
          track_id: trackId,
          position_ms: positionMs,
          comment,
          created_at: now,
          changed_at: now,
        })
        .onConflict((conflict) =>
          conflict
            .columns(["user_id", "track_id"])
            .doUpdateSet({ position_ms: positionMs, comment, changed_at: now }),
        )
        .execute();
      const row = await kysely
        .selectFrom("events_bookmarks")
        .selectAll()
        .where("user_id", "=", userId)
        .where("track_id", "=", trackId)
        .executeTakeFirstOrThrow();
      return bookmarkOf(row);
    },
    async deleteBookmark(userId, trackId) {
      const result = await kysely
        .deleteFrom("events_bookmarks")
        .where("user_id", "=", userId)
        .where("track_id", "=", trackId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async stations() {
      const rows = await kysely
        .selectFrom("events_radio_stations")
        .selectAll()
        .orderBy("name")
        .orderBy("id")
        .execute();
      return rows.map(stationOf);
    },
    countStations: () =>
      count(
        kysely
          .selectFrom("events_radio_stations")
          .select((eb) => eb.fn.countAll<number>().as("count"))
          .executeTakeFirst(),
      ),
    async station(id) {
      const row = await kysely
        .selectFrom("events_radio_stations")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return row ? stationOf(row) : null;
    },
    async insertStation(id, fields, now) {
      const row = {
        id,
        name: fields.name,
        stream_url: fields.streamUrl,
        homepage_url: fields.homepageUrl,
        created_at: now,
        updated_at: now,
      };
      await kysely.insertInto("events_radio_stations").values(row).execute();
      return stationOf(row);
    },
    async updateStation(id, fields, now) {
      const result = await kysely
        .updateTable("events_radio_stations")
        .set({
          name: fields.name,
          stream_url: fields.streamUrl,
          homepage_url: fields.homepageUrl,
          updated_at: now,
        })
        .where("id", "=", id)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return null;
      return store.station(id);
    },
    async deleteStation(id) {
      const result = await kysely.deleteFrom("events_radio_stations").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async insertShare(share) {
      await kysely
        .insertInto("events_shares")
        .values({
          id: share.id,
          owner_id: share.ownerId,
          track_ids: JSON.stringify(share.trackIds),
          description: share.description,
          created_at: share.createdAt,
          expires_at: share.expiresAt,
          last_visited_at: share.lastVisitedAt,
          visit_count: share.visitCount,
        })
        .execute();
    },
    async share(id) {
      const row = await kysely
        .selectFrom("events_shares")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return row ? shareOf(row) : null;
    },
    async sharesOf(ownerId) {
      const rows = await kysely
        .selectFrom("events_shares")
        .selectAll()
        .where("owner_id", "=", ownerId)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute();
      return rows.map(shareOf);
    },
    countShares: (ownerId) =>
      count(
        kysely
          .selectFrom("events_shares")
          .select((eb) => eb.fn.countAll<number>().as("count"))
          .where("owner_id", "=", ownerId)
          .executeTakeFirst(),
      ),
    async updateShare(id, patch) {
      const values: Partial<KeepsakeTables["events_shares"]> = {};
      if (patch.description !== undefined) values.description = patch.description;
      if (patch.expiresAt !== undefined) values.expires_at = patch.expiresAt;
      if (Object.keys(values).length === 0) return;
      await kysely.updateTable("events_shares").set(values).where("id", "=", id).execute();
    },
    async deleteShare(id) {
      const result = await kysely.deleteFrom("events_shares").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async visitShare(id, now) {
      await kysely
        .updateTable("events_shares")
        .set((eb) => ({ visit_count: eb("visit_count", "+", 1), last_visited_at: now }))
        .where("id", "=", id)
        .execute();
    },
  };
  return store;
}
