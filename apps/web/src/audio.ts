// The web player's audio: the streaming engine on a MediaSource, its clock, and a snapshot for the UI.
import {
  ByteAccounting,
  CachedManifests,
  LruIndex,
  IndexedDbPieceStore,
  MediaSourceSink,
  MemoryPieceStore,
  PieceFetcher,
  Player,
  ServerSource,
  defaultCacheCap,
  type ByteSnapshot,
  type PieceStore,
  type PlayerEvent,
} from "@soundmesh/engine";
import type { TrackRecord } from "@soundmesh/protocol";

export interface NowPlaying {
  queue: TrackRecord[];
  index: number;
  playing: boolean;
  positionSec: number;
  durationSec: number;
  volume: number;
  bytes: ByteSnapshot;
  bufferedAheadSec: number;
  error: string | undefined;
}

export class AudioController {
  readonly audio = new Audio();
  private readonly accounting = new ByteAccounting();
  private readonly player: Player;
  private queue: TrackRecord[] = [];
  private error: string | undefined;
  private readonly listeners = new Set<() => void>();
  private timer: number | undefined;
  /** The queue index playback started from: it sits at 0 s on the media timeline. */
  private startIndex = 0;

  /** Opens the client cache (IndexedDB; memory when the browser refuses it) and restores its LRU order. */
  static async create(): Promise<AudioController> {
    let store: PieceStore;
    const cacheIndex = new LruIndex(defaultCacheCap((await navigator.storage?.estimate?.())?.quota));
    try {
      const indexed = await IndexedDbPieceStore.open();
      for (const evicted of cacheIndex.restore(await indexed.tracks())) await indexed.delete(evicted);
      store = indexed;
    } catch {
      store = new MemoryPieceStore();
    }
    return new AudioController(store, cacheIndex);
  }

  private constructor(
    private readonly store: PieceStore,
    private readonly cacheIndex: LruIndex,
  ) {
    this.audio.setAttribute("data-testid", "audio");
    document.body.appendChild(this.audio);
    const server = new ServerSource({ baseUrl: "" });
    const fetcher = new PieceFetcher({
      sources: [server],
      store: this.store,
      cacheIndex: this.cacheIndex,
      accounting: this.accounting,
    });
    this.player = new Player({
      sink: new MediaSourceSink(this.audio),
      // A cached track needs no request at all: its manifest is kept with its pieces.
      server: new CachedManifests(server, this.store),
      fetcher,
      accounting: this.accounting,
      onEvent: (event) => this.onEvent(event),
    });
    for (const type of ["play", "pause", "timeupdate", "volumechange"])
      this.audio.addEventListener(type, () => this.emit());
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  private onEvent(event: PlayerEvent): void {
    if (event.type === "error")
      this.error = `Could not play "${this.queue.find((t) => t.id === event.trackId)?.title ?? event.trackId}": ${event.message}`;
    this.emit();
  }

  async playQueue(queue: TrackRecord[], index: number): Promise<void> {
    this.queue = queue;
    this.error = undefined;
    this.startIndex = index;
    await this.player.play(
      queue.map((t) => ({ trackId: t.id, replayGain: t.replayGain })),
      index,
    );
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => void this.player.tick(), 200);
    this.updateMediaSession();
    this.emit();
  }

  toggle(): void {
    if (this.audio.paused) void this.audio.play();
    else this.audio.pause();
  }

  async next(delta: 1 | -1): Promise<void> {
    const index = this.player.currentIndex + delta;
    if (index >= 0 && index < this.queue.length) await this.playQueue(this.queue, index);
  }

  async seek(trackSec: number): Promise<void> {
    await this.player.seek(trackSec * 1000);
  }

  setVolume(volume: number): void {
    this.player.setVolume(volume);
  }

  snapshot(): NowPlaying {
    const index = this.player.currentIndex;
    const track = this.queue[index];
    const start = this.segmentStartSec(index);
    const now = this.audio.currentTime;
    const ranges = this.audio.buffered;
    let bufferedAheadSec = 0;
    for (let i = 0; i < ranges.length; i++)
      if (now >= ranges.start(i) && now <= ranges.end(i)) bufferedAheadSec = ranges.end(i) - now;
    return {
      queue: this.queue,
      index,
      playing: !this.audio.paused,
      positionSec: Math.max(0, now - start),
      durationSec: (track?.durationMs ?? 0) / 1000,
      volume: this.audio.volume,
      bytes: this.accounting.snapshot(),
      bufferedAheadSec,
      error: this.error,
    };
  }

  /** Where a track starts on the media timeline: tracks follow each other gaplessly from the start index. */
  private segmentStartSec(index: number): number {
    let start = 0;
    for (let i = this.startIndex; i < index; i++) start += (this.queue[i]?.durationMs ?? 0) / 1000;
    return start;
  }

  private updateMediaSession(): void {
    const track = this.queue[this.player.currentIndex];
    if (!track || !("mediaSession" in navigator)) return;
    navigator.mediaSession.metadata = new MediaMetadata({
      title: track.title,
      artist: track.artist,
      album: track.album,
      artwork: [{ src: `/api/cover/${track.albumId}?size=300`, sizes: "300x300", type: "image/jpeg" }],
    });
    navigator.mediaSession.setActionHandler("play", () => void this.audio.play());
    navigator.mediaSession.setActionHandler("pause", () => this.audio.pause());
    navigator.mediaSession.setActionHandler("nexttrack", () => void this.next(1));
    navigator.mediaSession.setActionHandler("previoustrack", () => void this.next(-1));
  }
}
