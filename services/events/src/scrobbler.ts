// Scrobbling to ListenBrainz and Last.fm: off by default, connected per user. A play that counts (the same rule as
// play counts) is queued as a scrobble, a play start as "now playing", in a durable SQL queue (migration
// events/002-scrobbling) keyed by sink and event id, so a replay of the log queues nothing twice. A worker sends
// what is due, backs off after a failure (doubling up to a limit), puts a request into the dead letters after
// `maxAttempts` tries or at once when it can never succeed, and stops sending for an account whose token the
// service refused (its queue waits until the user gives a new one). Delivered rows are kept a while (dedup) then
// pruned.
import type { Logger } from "pino";
import type { Db, Kysely } from "@soundmesh/db";
import { AppError, type ScrobbleSinkName, type ScrobbleSinkStatus } from "@soundmesh/protocol";
import type {
  LastFmClient,
  ListenBrainzClient,
  ScrobbleClient,
  ScrobbleItem,
  ScrobbleKind,
} from "./scrobble-clients";

export interface ScrobbleTables {
  events_scrobble_accounts: {
    user_id: string;
    sink: string;
    credential: string | null;
    pending_token: string | null;
    username: string | null;
    enabled: number;
    state: string;
    last_error: string | null;
    last_delivered_at: number | null;
    updated_at: number;
  };
  events_scrobble_queue: {
    id: string;
    user_id: string;
    sink: string;
    kind: string;
    payload: string;
    state: string;
    attempts: number;
    next_at: number;
    last_error: string | null;
    created_at: number;
    done_at: number | null;
  };
}

export interface ScrobblerOptions {
  db: Db;
  logger: Logger;
  clock: { now(): number };
  listenBrainz: ListenBrainzClient | null;
  /** Null when the server has no Last.fm API key and secret. */
  lastFm: LastFmClient | null;
  /** Where a user approves soundmesh (Last.fm's `/api/auth/`). */
  lastFmAuthUrl: string;
  lastFmApiKey: string | null;
  maxAttempts: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** How long delivered rows are kept (at least the event dedup window, so a replay queues nothing again). */
  keepDoneMs: number;
}

/** A counted play or a play start, with what the sinks need to know of its track. */
export interface ScrobbleRequest {
  userId: string;
  eventId: string;
  kind: ScrobbleKind;
  item: ScrobbleItem;
}

/** "Now playing" is only worth sending while the track could still be playing. */
const NOW_PLAYING_FRESH_MS = 10 * 60_000;
const SINKS: ScrobbleSinkName[] = ["listenbrainz", "lastfm"];
const BATCH = 50;

interface Account {
  credential: string | null;
  enabled: boolean;
  state: string;
}

export interface Scrobbler {
  /** Loads which users have sinks on (kept in memory: the ingest path asks it for every batch). */
  start(): Promise<void>;
  /** Whether anything is to be queued for this user (cheap: in memory). */
  wants(userId: string): boolean;
  enqueue(requests: ScrobbleRequest[]): Promise<void>;
  /** Sends what is due now; answers how many were sent. */
  deliverDue(): Promise<number>;
  status(userId: string): Promise<ScrobbleSinkStatus[]>;
  setListenBrainzToken(userId: string, token: string | null): Promise<ScrobbleSinkStatus>;
  lastFmAuthStart(userId: string): Promise<{ authUrl: string; token: string }>;
  lastFmAuthFinish(userId: string): Promise<ScrobbleSinkStatus>;
  setScrobbling(
    userId: string,
    sink: ScrobbleSinkName,
    enabled: boolean,
    disconnect: boolean,
  ): Promise<ScrobbleSinkStatus>;
  retryDead(userId: string, sink: ScrobbleSinkName): Promise<ScrobbleSinkStatus>;
}

export function createScrobbler(options: ScrobblerOptions): Scrobbler {
  const { clock, logger } = options;
  const kysely = options.db.kysely as Kysely<ScrobbleTables>;
  /** userId → sink → account, for every account row. */
  const accounts = new Map<string, Map<string, Account>>();
  let delivering: Promise<number> | null = null;

  const clientOf = (sink: string): ScrobbleClient | null =>
    sink === "listenbrainz" ? options.listenBrainz : sink === "lastfm" ? options.lastFm : null;
  const isSending = (account: Account | undefined) =>
    account !== undefined && account.enabled && account.state === "ok" && account.credential !== null;

  function remember(userId: string, sink: string, account: Account | null): void {
    const mine = accounts.get(userId) ?? new Map<string, Account>();
    if (account) mine.set(sink, account);
    else mine.delete(sink);
    if (mine.size > 0) accounts.set(userId, mine);
    else accounts.delete(userId);
  }

  async function saveAccount(
    userId: string,
    sink: ScrobbleSinkName,
    patch: Partial<Omit<ScrobbleTables["events_scrobble_accounts"], "user_id" | "sink">>,
  ): Promise<void> {
    const values = { ...patch, updated_at: clock.now() };
    await kysely
      .insertInto("events_scrobble_accounts")
      .values({
        user_id: userId,
        sink,
        credential: null,
        pending_token: null,
        username: null,
        enabled: 0,
        state: "off",
        last_error: null,
        last_delivered_at: null,
        ...values,
      })
      .onConflict((conflict) => conflict.columns(["user_id", "sink"]).doUpdateSet(values))
      .execute();
    const row = await kysely
      .selectFrom("events_scrobble_accounts")
      .selectAll()
      .where("user_id", "=", userId)
      .where("sink", "=", sink)
      .executeTakeFirstOrThrow();
    remember(userId, sink, {
      credential: row.credential,
      enabled: Number(row.enabled) === 1,
      state: row.state,
    });
  }

  async function statusOf(userId: string, sink: ScrobbleSinkName): Promise<ScrobbleSinkStatus> {
    const row = await kysely
      .selectFrom("events_scrobble_accounts")
      .selectAll()
      .where("user_id", "=", userId)
      .where("sink", "=", sink)
      .executeTakeFirst();
    const counts = await kysely
      .selectFrom("events_scrobble_queue")
      .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
      .where("user_id", "=", userId)
      .where("sink", "=", sink)
      .where("state", "in", ["pending", "dead"])
      .groupBy("state")
      .execute();
    const count = (state: string) => Number(counts.find((c) => c.state === state)?.n ?? 0);
    return {
      sink,
      available: sink === "lastfm" ? options.lastFm !== null : options.listenBrainz !== null,
      state: (row?.state ?? "off") as ScrobbleSinkStatus["state"],
      enabled: Number(row?.enabled ?? 0) === 1,
      username: row?.username ?? null,
      queued: count("pending"),
      dead: count("dead"),
      lastError: row?.last_error ?? null,
      lastDeliveredAt: row?.last_delivered_at === null || !row ? null : Number(row.last_delivered_at),
    };
  }

  async function settle(
    id: string,
    set: Partial<Omit<ScrobbleTables["events_scrobble_queue"], "id">>,
  ): Promise<void> {
    await kysely.updateTable("events_scrobble_queue").set(set).where("id", "=", id).execute();
  }

  async function deliverNow(): Promise<number> {
    const now = clock.now();
    const rows = await kysely
      .selectFrom("events_scrobble_queue")
      .selectAll()
      .where("state", "=", "pending")
      .where("next_at", "<=", now)
      .orderBy("next_at")
      .orderBy("created_at")
      .limit(BATCH)
      .execute();
    let sent = 0;
    for (const row of rows) {
      const account = accounts.get(row.user_id)?.get(row.sink);
      // A refused token pauses the account's queue until a new one is given; a disconnected sink drops its rows.
      if (account?.state === "bad_token") continue;
      const client = clientOf(row.sink);
      if (!account || account.credential === null || !client) {
        await settle(row.id, { state: "dead", last_error: "the sink is not connected", done_at: now });
        continue;
      }
      if (row.kind === "now_playing" && Number(row.created_at) < now - NOW_PLAYING_FRESH_MS) {
        await settle(row.id, { state: "done", last_error: "expired before it could be sent", done_at: now });
        continue;
      }
      const outcome = await client.send(
        account.credential,
        row.kind as ScrobbleKind,
        JSON.parse(row.payload) as ScrobbleItem,
      );
      const attempts = Number(row.attempts) + 1;
      if (outcome.ok) {
        sent += 1;
        await settle(row.id, { state: "done", attempts, last_error: null, done_at: now });
        await kysely
          .updateTable("events_scrobble_accounts")
          .set({ last_delivered_at: now, last_error: null })
          .where("user_id", "=", row.user_id)
          .where("sink", "=", row.sink)
          .execute();
        continue;
      }
      logger.warn(
        { sink: row.sink, userId: row.user_id, problem: outcome.problem, error: outcome.message },
        "scrobble not delivered",
      );
      if (outcome.problem === "bad_token") {
        await settle(row.id, { attempts, last_error: outcome.message });
        await saveAccount(row.user_id, row.sink as ScrobbleSinkName, {
          state: "bad_token",
          last_error: outcome.message,
        });
        continue;
      }
      const isDead = outcome.problem === "permanent" || attempts >= options.maxAttempts;
      const delay = Math.min(options.retryMaxMs, options.retryMinMs * 2 ** (attempts - 1));
      await settle(row.id, {
        attempts,
        last_error: outcome.message,
        ...(isDead ? { state: "dead", done_at: now } : { next_at: now + delay }),
      });
      await kysely
        .updateTable("events_scrobble_accounts")
        .set({ last_error: outcome.message })
        .where("user_id", "=", row.user_id)
        .where("sink", "=", row.sink)
        .execute();
    }
    await kysely
      .deleteFrom("events_scrobble_queue")
      .where("state", "=", "done")
      .where("done_at", "<", now - options.keepDoneMs)
      .execute();
    return sent;
  }

  function requireLastFm(): LastFmClient {
    if (!options.lastFm) throw new AppError("SCROBBLING_NOT_CONFIGURED");
    return options.lastFm;
  }

  return {
    async start() {
      const rows = await kysely.selectFrom("events_scrobble_accounts").selectAll().execute();
      for (const row of rows)
        remember(row.user_id, row.sink, {
          credential: row.credential,
          enabled: Number(row.enabled) === 1,
          state: row.state,
        });
    },
    wants(userId) {
      const mine = accounts.get(userId);
      if (!mine) return false;
      for (const account of mine.values()) if (isSending(account)) return true;
      return false;
    },
    async enqueue(requests) {
      const now = clock.now();
      const rows: Array<ScrobbleTables["events_scrobble_queue"]> = [];
      for (const request of requests) {
        if (request.kind === "now_playing" && request.item.startedAt < now - NOW_PLAYING_FRESH_MS) continue;
        for (const sink of SINKS) {
          if (!isSending(accounts.get(request.userId)?.get(sink)) || !clientOf(sink)) continue;
          rows.push({
            id: `${sink}:${request.kind}:${request.eventId}`,
            user_id: request.userId,
            sink,
            kind: request.kind,
            payload: JSON.stringify(request.item),
            state: "pending",
            attempts: 0,
            next_at: now,
            last_error: null,
            created_at: now,
            done_at: null,
          });
        }
      }
      for (let start = 0; start < rows.length; start += 100)
        await kysely
          .insertInto("events_scrobble_queue")
          .values(rows.slice(start, start + 100))
          .onConflict((conflict) => conflict.column("id").doNothing())
          .execute();
    },
    deliverDue() {
      // One delivery pass at a time: a timer tick during a slow pass does not send the same rows twice.
      delivering ??= deliverNow().finally(() => (delivering = null));
      return delivering;
    },
    async status(userId) {
      return Promise.all(SINKS.map((sink) => statusOf(userId, sink)));
    },
    async setListenBrainzToken(userId, token) {
      if (token === null) {
        await saveAccount(userId, "listenbrainz", {
          credential: null,
          username: null,
          enabled: 0,
          state: "off",
        });
        return statusOf(userId, "listenbrainz");
      }
      if (!options.listenBrainz) throw new AppError("SCROBBLING_NOT_CONFIGURED");
      const checked = await options.listenBrainz.validateToken(token);
      if ("ok" in checked)
        throw new AppError("UNAVAILABLE", `ListenBrainz could not check the token: ${checked.message}`);
      if (!checked.valid)
        throw new AppError("SCROBBLE_TOKEN_REJECTED", "ListenBrainz does not know this token");
      await saveAccount(userId, "listenbrainz", {
        credential: token,
        username: checked.userName,
        enabled: 1,
        state: "ok",
        last_error: null,
      });
      return statusOf(userId, "listenbrainz");
    },
    async lastFmAuthStart(userId) {
      const client = requireLastFm();
      let token: string;
      try {
        token = await client.getToken();
      } catch (error) {
        throw new AppError("UNAVAILABLE", `Last.fm did not give a token: ${(error as Error).message}`);
      }
      await saveAccount(userId, "lastfm", {
        pending_token: token,
        state: "awaiting_approval",
        last_error: null,
      });
      const authUrl = `${options.lastFmAuthUrl}?api_key=${encodeURIComponent(options.lastFmApiKey ?? "")}&token=${encodeURIComponent(token)}`;
      return { authUrl, token };
    },
    async lastFmAuthFinish(userId) {
      const client = requireLastFm();
      const row = await kysely
        .selectFrom("events_scrobble_accounts")
        .select("pending_token")
        .where("user_id", "=", userId)
        .where("sink", "=", "lastfm")
        .executeTakeFirst();
      if (!row?.pending_token) throw new AppError("CONFLICT", "Start the Last.fm sign-in first");
      let session: Awaited<ReturnType<LastFmClient["getSession"]>>;
      try {
        session = await client.getSession(row.pending_token);
      } catch (error) {
        throw new AppError("UNAVAILABLE", `Last.fm did not answer: ${(error as Error).message}`);
      }
      if ("error" in session) {
        if (session.error === 14) throw new AppError("SCROBBLE_NOT_APPROVED");
        await saveAccount(userId, "lastfm", {
          pending_token: null,
          state: "off",
          last_error: session.message,
        });
        throw new AppError("SCROBBLE_TOKEN_REJECTED", `Last.fm: ${session.message}`);
      }
      await saveAccount(userId, "lastfm", {
        credential: session.key,
        pending_token: null,
        username: session.name,
        enabled: 1,
        state: "ok",
        last_error: null,
      });
      return statusOf(userId, "lastfm");
    },
    async setScrobbling(userId, sink, enabled, disconnect) {
      if (disconnect) {
        await saveAccount(userId, sink, {
          credential: null,
          pending_token: null,
          username: null,
          enabled: 0,
          state: "off",
        });
        return statusOf(userId, sink);
      }
      const account = accounts.get(userId)?.get(sink);
      if (enabled && (!account || account.credential === null))
        throw new AppError("CONFLICT", "Connect the account first");
      await saveAccount(userId, sink, { enabled: enabled ? 1 : 0 });
      return statusOf(userId, sink);
    },
    async retryDead(userId, sink) {
      await kysely
        .updateTable("events_scrobble_queue")
        .set({ state: "pending", attempts: 0, next_at: clock.now(), done_at: null })
        .where("user_id", "=", userId)
        .where("sink", "=", sink)
        .where("state", "=", "dead")
        .execute();
      return statusOf(userId, sink);
    },
  };
}
