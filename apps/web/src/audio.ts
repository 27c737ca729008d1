// The web player's audio: the streaming engine on a MediaSource, the queue, the client cache, and a snapshot for the UI.
import {
  EngineClient,
  IndexedDbPieceStore,
  LruIndex,
  MediaSourceSink,
  MemoryPieceStore,
  PlayQueue,
  defaultCacheCap,
  type ByteSnapshot,
  type UploadSettings,
  type PieceStore,
  type PlayerEvent,
  type QueueEntry,
  type QueueItem,
  type RepeatMode,
  type ReplayGainMode,
  PlayEvents,
} from "@soundmesh/engine";
import type { ListeningEvent, TrackRecord } from "@soundmesh/protocol";
import { MediaSessionBridge } from "./media-session";
import { browserP2p, bufferedAheadMsOf, saveUploadSettings } from "./p2p";
import { OfflineLibrary } from "./offline";
import { settings } from "./settings";

export const PROFILE = "opus96";

export interface NowPlaying {
  queue: readonly QueueEntry<TrackRecord>[];
  index: number;
  track: TrackRecord | undefined;
  playing: boolean;
  positionSec: number;
  durationSec: number;
  volume: number;
  shuffle: boolean;
  repeat: RepeatMode;
  bytes: ByteSnapshot;
  bufferedAheadSec: number;
  /** A track was skipped or could not start: shown for a while, then cleared. */
  error: string | undefined;
  /** Set while pieces cannot be fetched; cleared as soon as bytes arrive again. */
  networkProblem: string | undefined;
  /** The current track was asked for and has not started yet (the play button and its row show it). */
  loading: boolean;
  /** Why tracks could not be played, by track id (shown on their rows until played again). */
  failed: ReadonlyMap<string, string>;
}

export class AudioController {
  readonly audio = new Audio();
  readonly queue = new PlayQueue<TrackRecord>();
  readonly offline: OfflineLibrary;
  /** The streaming engine: cache, fetcher, player and P2P sessions (opened in apps/web/src/p2p.ts). */
  readonly engine: EngineClient;
  private readonly player: EngineClient["player"];
  /** The last few P2P problems (connections that failed, a tracker that did not answer), for the stats page. */
  private readonly p2pProblems: string[] = [];
  private error: string | undefined;
  private errorTimer: number | undefined;
  private networkProblem: string | undefined;
  /** The track asked for and not yet sounding. */
  private loadingTrackId: string | undefined;
  private readonly failed = new Map<string, string>();
  private readonly listeners = new Set<() => void>();
  private timer: number | undefined;
  private retryTimer: number | undefined;
  /** Tracks refused or unreachable since the last successful start (for back-off and to stop skipping). */
  private failuresInARow = 0;
  /** The listener's volume; the element's volume also carries ReplayGain. */
  private userVolume = settings.volume();
  private readonly mediaSession: MediaSessionBridge;
  /** Called when the server says the session has ended (HTTP 401 on audio). */
  onSignedOut: () => void = () => undefined;
  /** Counts the times the queue was replaced by another (radio follows the queue it started, only that one). */
  queueGeneration = 0;
  /** Where listening events go (the app's event outbox); dropped until it is set. */
  onListeningEvent: (event: ListeningEvent) => void = () => undefined;
  private readonly playEvents = new PlayEvents(
    (event) => this.onListeningEvent(event),
    () => this.accounting.snapshot(),
  );

  /** Opens the client cache (IndexedDB; memory when the browser refuses it) and restores its LRU order. */
  static async create(): Promise<AudioController> {
    let store: PieceStore & { setPinned?(key: string, pinned: boolean): Promise<void> };
    const quota = (await navigator.storage?.estimate?.())?.quota;
    const cacheIndex = new LruIndex(settings.cacheCapBytes() ?? defaultCacheCap(quota));
    try {
      const indexed = await IndexedDbPieceStore.open();
      for (const evicted of cacheIndex.restore(await indexed.tracks())) await indexed.delete(evicted);
      store = indexed;
    } catch {
      store = new MemoryPieceStore();
    }
    return new AudioController(store, cacheIndex, quota);
  }

  private constructor(
    readonly store: PieceStore & { setPinned?(key: string, pinned: boolean): Promise<void> },
    readonly cacheIndex: LruIndex,
    readonly quotaBytes: number | undefined,
  ) {
    this.audio.setAttribute("data-testid", "audio");
    document.body.appendChild(this.audio);
    const p2p = browserP2p();
    this.engine = new EngineClient({
      baseUrl: "",
      store,
      cacheIndex,
      sink: new MediaSourceSink(this.audio),
      profile: PROFILE,
      replayGain: settings.replayGain(),
      bufferedAheadMs: () => bufferedAheadMsOf(this.audio),
      onEvent: (event) => this.onEvent(event),
      // P2P problems never stop playback (the server is always there); the last few are shown in the stats panel.
      onError: (error) => {
        this.p2pProblems.push(error instanceof Error ? error.message : String(error));
        if (this.p2pProblems.length > 5) this.p2pProblems.shift();
      },
      ...(p2p ? { p2p } : {}),
    });
    this.player = this.engine.player;
    const { manifests, fetcher } = this.engine;
    this.offline = new OfflineLibrary({ manifests, fetcher, store, cacheIndex }, PROFILE, () => this.emit());
    this.mediaSession = new MediaSessionBridge(this);
    this.player.setVolume(this.userVolume);
    for (const type of ["play", "pause", "timeupdate", "volumechange", "ended"])
      this.audio.addEventListener(type, () => this.emit());
    this.audio.addEventListener("timeupdate", () =>
      this.playEvents.progress(this.snapshot().positionSec * 1000),
    );
    this.audio.addEventListener("waiting", () => this.playEvents.stalled());
    // The end of the last track in the queue: the engine ends the stream, the element says so.
    this.audio.addEventListener("ended", () => this.playEvents.ended("finished"));
    this.audio.addEventListener("playing", () => this.playEvents.resumed());
  }

  get accounting() {
    return this.engine.accounting;
  }

  /** The open P2P session's figures; undefined while not connected to other listeners. */
  peerStats() {
    return this.engine.peers.stats();
  }

  lastP2pProblem(): string | undefined {
    return this.p2pProblems.at(-1);
  }

  setUploads(upload: Pick<UploadSettings, "enabled" | "bytesPerSecond">): void {
    saveUploadSettings(upload);
    this.engine.peers.configureUploads(upload);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  private showError(message: string): void {
    this.error = message;
    window.clearTimeout(this.errorTimer);
    this.errorTimer = window.setTimeout(() => {
      this.error = undefined;
      this.emit();
    }, 8_000);
  }

  private titleOf(trackId: string): string {
    return this.queue.items.find((e) => e.track.id === trackId)?.track.title ?? trackId;
  }

  private onEvent(event: PlayerEvent): void {
    switch (event.type) {
      case "track":
        // The player crossed into the next track (or skipped a broken one): the queue follows.
        this.playEvents.ended("finished");
        this.queue.advance();
        if (this.queue.current)
          this.playEvents.started(this.queue.current.id, this.queue.current.durationMs, 0);
        settings.rememberPlayed(this.queue.current);
        queueMicrotask(() => void this.syncPlayer());
        this.mediaSession.update();
        break;
      case "started":
        if (this.loadingTrackId === event.trackId) this.loadingTrackId = undefined;
        this.failuresInARow = 0;
        settings.rememberPlayed(this.queue.current);
        this.playEvents.started(
          event.trackId,
          this.queue.items.find((entry) => entry.track.id === event.trackId)?.track.durationMs ?? 0,
          event.latencyMs,
        );
        break;
      case "error":
        if (/HTTP 401/.test(event.message)) return this.onSignedOut();
        this.failed.set(event.trackId, event.reason ?? event.message);
        if (this.playEvents.trackId === event.trackId) this.playEvents.ended("error");
        if (this.loadingTrackId === event.trackId) this.loadingTrackId = undefined;
        this.showError(`Skipped "${this.titleOf(event.trackId)}": ${event.reason ?? event.message}`);
        queueMicrotask(() => void this.skipBroken(event.trackId));
        break;
      case "network":
        if (/HTTP 401/.test(event.message)) return this.onSignedOut();
        this.retryStart(event.trackId);
        this.networkProblem = navigator.onLine
          ? "The server cannot be reached: retrying…"
          : "You are offline: playing what is buffered and cached";
        break;
      case "recovered":
        this.networkProblem = undefined;
        break;
      case "ended":
        this.playEvents.ended("finished");
        break;
    }
    this.emit();
  }

  /**
   * A track that cannot be played is left out: the engine replaces a broken current track by itself, but one
   * refused before it started, or the prefetched next one, is the queue's to drop.
   */
  private async skipBroken(trackId: string): Promise<void> {
    const next = this.queue.nextPosition();
    if (this.queue.current?.id === trackId && !this.player.hasCurrentTrack) {
      // Every entry refused in turn: stop rather than go round the queue for ever.
      if (++this.failuresInARow > this.queue.items.length) return;
      if (this.queue.skip(1)) await this.playCurrent();
    } else if (
      next !== undefined &&
      next !== this.queue.position &&
      this.queue.items[next]?.track.id === trackId
    ) {
      this.queue.remove(next);
      await this.syncPlayer();
    }
  }

  /** The current track could not be loaded for want of a network: try again with back-off while it stays current. */
  private retryStart(trackId: string): void {
    if (this.queue.current?.id !== trackId || this.player.hasCurrentTrack) return;
    const delayMs = Math.min(15_000, 1_000 * 2 ** this.failuresInARow++);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => {
      if (this.queue.current?.id === trackId && !this.player.hasCurrentTrack) void this.playCurrent();
    }, delayMs);
  }

  /** What the engine plays: the current entry and the one after it (enough for a gapless boundary). */
  private playerItems(): QueueItem[] {
    const toItem = (track: TrackRecord): QueueItem => ({ trackId: track.id, replayGain: track.replayGain });
    const current = this.queue.current;
    if (!current) return [];
    const next = this.queue.nextPosition();
    const nextTrack = next === undefined ? undefined : this.queue.items[next]?.track;
    return nextTrack ? [toItem(current), toItem(nextTrack)] : [toItem(current)];
  }

  private async syncPlayer(): Promise<void> {
    await this.player.setQueue(this.playerItems(), 0);
    this.emit();
  }

  /** Starts the current entry from its beginning; the click-to-sound clock starts now. */
  private async playCurrent(): Promise<void> {
    this.error = undefined;
    this.networkProblem = undefined;
    const current = this.queue.current;
    this.playEvents.ended("stopped");
    this.playEvents.requested();
    this.loadingTrackId = current?.id;
    if (current) this.failed.delete(current.id);
    this.emit();
    await this.player.play(this.playerItems(), 0);
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => void this.player.tick(), 200);
    this.mediaSession.update();
    this.emit();
  }

  async playTracks(tracks: TrackRecord[], index: number): Promise<void> {
    this.queueGeneration++;
    this.failuresInARow = 0;
    const shuffle = this.queue.isShuffled;
    this.queue.replace(tracks, index);
    if (shuffle) this.queue.setShuffle(true);
    await this.playCurrent();
  }

  async playNext(tracks: TrackRecord[]): Promise<void> {
    const wasEmpty = this.queue.items.length === 0;
    this.queue.playNext(tracks);
    await (wasEmpty ? this.playCurrent() : this.syncPlayer());
  }

  async addToQueue(tracks: TrackRecord[]): Promise<void> {
    const wasEmpty = this.queue.items.length === 0;
    this.queue.add(tracks);
    await (wasEmpty ? this.playCurrent() : this.syncPlayer());
  }

  async moveInQueue(from: number, to: number): Promise<void> {
    this.queue.move(from, to);
    await this.syncPlayer();
  }

  async removeFromQueue(index: number): Promise<void> {
    const playing = index === this.queue.position;
    this.queue.remove(index);
    if (playing && this.queue.current) await this.playCurrent();
    else if (playing) this.audio.pause();
    await this.syncPlayer();
  }

  async jumpTo(index: number): Promise<void> {
    this.queue.jump(index);
    await this.playCurrent();
  }

  async setShuffle(on: boolean): Promise<void> {
    this.queue.setShuffle(on);
    await this.syncPlayer();
  }

  async cycleRepeat(): Promise<void> {
    const order: RepeatMode[] = ["off", "all", "one"];
    this.queue.repeat = order[(order.indexOf(this.queue.repeat) + 1) % order.length]!;
    await this.syncPlayer();
  }

  toggle(): void {
    if (!this.queue.current) return;
    if (this.audio.paused) void this.audio.play();
    else this.audio.pause();
  }

  /** Next, or previous: a track more than 3 s in restarts instead, as every player does. */
  async next(delta: 1 | -1): Promise<void> {
    if (delta === -1 && this.snapshot().positionSec > 3) return this.seek(0);
    if (this.queue.current) this.playEvents.ended("skipped");
    if (this.queue.skip(delta)) await this.playCurrent();
  }

  async seek(trackSec: number): Promise<void> {
    this.playEvents.seeked(this.snapshot().positionSec * 1000, Math.max(0, trackSec) * 1000);
    await this.player.seek(Math.max(0, trackSec) * 1000);
    this.emit();
  }

  setVolume(volume: number): void {
    this.userVolume = volume;
    this.player.setVolume(volume);
    settings.setVolume(volume);
  }

  setReplayGain(mode: ReplayGainMode): void {
    this.player.setReplayGain(mode);
    settings.setReplayGain(mode);
  }

  /** Changes the cache cap and evicts least recently played unpinned tracks beyond it. */
  async setCacheCap(capBytes: number): Promise<void> {
    settings.setCacheCapBytes(capBytes);
    for (const evicted of this.cacheIndex.setCap(capBytes)) await this.store.delete(evicted);
    this.emit();
  }

  snapshot(): NowPlaying {
    const track = this.queue.current;
    const durationSec = (track?.durationMs ?? 0) / 1000;
    const now = this.audio.currentTime;
    const ranges = this.audio.buffered;
    let bufferedAheadSec = 0;
    for (let i = 0; i < ranges.length; i++)
      if (now >= ranges.start(i) && now <= ranges.end(i)) bufferedAheadSec = ranges.end(i) - now;
    return {
      queue: this.queue.items,
      index: this.queue.position,
      track,
      playing: !this.audio.paused,
      positionSec: Math.min(durationSec, Math.max(0, now - this.player.currentStartSec)),
      durationSec,
      volume: this.userVolume,
      shuffle: this.queue.isShuffled,
      repeat: this.queue.repeat,
      bytes: this.accounting.snapshot(),
      bufferedAheadSec,
      error: this.error,
      networkProblem: this.networkProblem,
      loading: track !== undefined && this.loadingTrackId === track.id,
      failed: this.failed,
    };
  }
}
