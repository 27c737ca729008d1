// Keeps a PlaylistModel in step with the server over any request/push connection: follows the playlist's push
// topic, sends queued operations one batch at a time, catches up after gaps and reconnects (to the same access point
// or another).
import type { SessionClient } from "@soundmesh/client";
import { playlistContract, pushTopics, type PlaylistChange } from "@soundmesh/protocol";
import {
  PlaylistModel,
  type EditBatch,
  type PlaylistModelOptions,
  type SyncErrorInfo,
} from "./playlist-model";

/**
 * What the sync needs from the app's WebSocket: the session client's typed calls (rejecting with an AppError), its
 * pushes by topic, and (when it has them) its state changes, to catch up and resend after each reconnection.
 */
export type PlaylistConnection = Pick<SessionClient, "call" | "subscribe" | "follow" | "state"> &
  Partial<Pick<SessionClient, "onStateChange">>;

/**
 * Follows a playlist's topic. Online, the server's confirmation comes before the snapshot is read, so no change falls
 * between them unheard; offline (or dropped meanwhile), the topic is followed once the socket opens again. A refusal
 * (NOT_FOUND: no access) rejects.
 */
async function followPlaylist(
  connection: PlaylistConnection,
  playlistId: string,
  onPush: (change: PlaylistChange) => void,
): Promise<() => void> {
  const topic = pushTopics.playlist(playlistId);
  if (connection.state !== "open") return connection.subscribe(topic, onPush);
  try {
    return await connection.follow(topic, onPush);
  } catch (error) {
    if (syncErrorOf(error).code !== "UNAVAILABLE") throw error;
    return connection.subscribe(topic, onPush);
  }
}

/** Reads `code` and `details` from what a call rejected with (an AppError; anything else is taken as offline). */
export function syncErrorOf(error: unknown): SyncErrorInfo {
  const source = (typeof error === "object" && error !== null ? error : {}) as {
    code?: unknown;
    details?: unknown;
  };
  const code = typeof source.code === "string" ? source.code : "UNAVAILABLE";
  return source.details === undefined ? { code } : { code, details: source.details };
}

const minRetryDelayMs = 1_000;
const maxRetryDelayMs = 30_000;

export class PlaylistSync {
  private flushing: Promise<void> | undefined;
  private catchingUp: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private deleted = false;
  private closed = false;
  private readonly changeListeners = new Set<(change: PlaylistChange) => void>();

  private flushAgain = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelayMs = minRetryDelayMs;
  private stopWatching: (() => void) | undefined;
  private stopWatchingState: (() => void) | undefined;

  private constructor(
    private readonly connection: PlaylistConnection,
    readonly model: PlaylistModel,
  ) {
    // A local edit goes out at once (or waits in the queue while offline).
    this.stopWatching = model.onChange(() => {
      if (model.pending.some((op) => !op.inFlight && op.ackedRevision === undefined)) void this.flush();
    });
    // Back on a socket (the same access point or another one): what was missed, then what waited, same opIds.
    this.stopWatchingState = connection.onStateChange?.((state) => {
      if (state === "open") void this.reconnected();
    });
  }

  /**
   * Follows the playlist's topic, then loads it (or resumes a saved model: its queue is sent at once).
   * Pushes that arrive while loading are kept and applied after the snapshot.
   */
  static async open(
    connection: PlaylistConnection,
    playlistId: string,
    options: PlaylistModelOptions & { resume?: PlaylistModel } = {},
  ): Promise<PlaylistSync> {
    const early: PlaylistChange[] = [];
    let sync: PlaylistSync | undefined;
    const onPush = (change: PlaylistChange) => {
      if (sync) sync.onPush(change);
      else early.push(change);
    };
    const unsubscribe = await followPlaylist(connection, playlistId, onPush);
    try {
      let model = options.resume;
      if (model) {
        sync = new PlaylistSync(connection, model);
        await sync.catchUp();
      } else {
        const snapshot = await connection.call(playlistContract, "get", { playlistId });
        model = new PlaylistModel(snapshot, options);
        sync = new PlaylistSync(connection, model);
      }
      sync.unsubscribe = unsubscribe;
      for (const change of early) sync.onPush(change);
    } catch (error) {
      sync?.close();
      unsubscribe();
      throw error;
    }
    void sync.flush();
    return sync;
  }

  /** The playlist was deleted, or the caller can no longer see it. */
  get isDeleted(): boolean {
    return this.deleted;
  }

  /** Every push for this playlist (members changed, deleted, new revisions), after the model applied it. */
  onChange(listener: (change: PlaylistChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Sends queued operations until the queue is empty or the connection fails (offline: they stay queued and go
   * out on reconnected()). Resolves when this round is over; never rejects.
   */
  flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = this.sendAll().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** After the connection came back: fetch what was missed, then send what was made offline. */
  async reconnected(): Promise<void> {
    await this.catchUp();
    await this.flush();
  }

  /** Asks for the revisions after the model's (or a snapshot when too far behind) and applies them. */
  catchUp(): Promise<void> {
    this.catchingUp ??= this.fetchMissed().finally(() => (this.catchingUp = undefined));
    return this.catchingUp;
  }

  close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.closed = true;
    this.stopWatching?.();
    this.stopWatching = undefined;
    this.stopWatchingState?.();
    this.stopWatchingState = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private async sendAll(): Promise<void> {
    do {
      this.flushAgain = false;
      for (let batch = this.model.takeBatch(); batch; batch = this.model.takeBatch()) {
        if (!(await this.send(batch))) return;
      }
    } while (this.flushAgain);
  }

  /** One batch; false when sending should stop for now (offline, or a resync is needed first). */
  private async send(batch: EditBatch): Promise<boolean> {
    try {
      const result = await this.connection.call(playlistContract, "edit", batch);
      this.model.acknowledge(result);
      this.retryDelayMs = minRetryDelayMs;
      if (this.model.isBehind) await this.catchUp();
      return true;
    } catch (error) {
      const info = syncErrorOf(error);
      const outcome = this.model.failBatch(info);
      if (info.code === "GONE") this.deleted = true;
      if (outcome === "resync") await this.catchUp();
      // Offline waits for reconnected(); a refusal that may pass (rate limit, timeout, resync) is retried later.
      if (outcome !== "dropped" && info.code !== "UNAVAILABLE") this.scheduleRetry();
      return outcome === "dropped";
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, maxRetryDelayMs);
  }

  private async fetchMissed(): Promise<void> {
    try {
      const missed = await this.connection.call(playlistContract, "changesSince", {
        playlistId: this.model.playlistId,
        revision: this.model.revision,
      });
      if (missed.kind === "snapshot") this.model.applySnapshot(missed.snapshot);
      else this.model.receive(missed.revisions);
    } catch (error) {
      const info = syncErrorOf(error);
      if (info.code === "GONE") this.deleted = true;
      else if (info.code === "REVISION_AHEAD") {
        const snapshot = await this.connection
          .call(playlistContract, "get", { playlistId: this.model.playlistId })
          .catch(() => undefined);
        if (snapshot) this.model.applySnapshot(snapshot);
      }
      // Offline or refused: the next reconnect or push tries again.
    }
  }

  private onPush(change: PlaylistChange): void {
    if (change.deleted) this.deleted = true;
    if (change.revisions.length > 0) this.model.receive(change.revisions);
    if (change.revision > this.model.revision && !this.catchingUp) void this.catchUp();
    if (change.membersChanged && !change.deleted) void this.refreshInfo();
    for (const listener of this.changeListeners) listener(change);
  }

  /** Collaborators, owner or cover changed: what the server says about the playlist (and the caller's access). */
  private async refreshInfo(): Promise<void> {
    try {
      const snapshot = await this.connection.call(playlistContract, "get", {
        playlistId: this.model.playlistId,
      });
      if (snapshot.playlist.revision === this.model.revision) this.model.applyInfo(snapshot.playlist);
      else if (snapshot.playlist.revision > this.model.revision) this.model.applySnapshot(snapshot);
    } catch (error) {
      // Access ended (removed as a collaborator of a private playlist): nothing more will come.
      if (syncErrorOf(error).code === "NOT_FOUND") this.deleted = true;
    }
  }
}
