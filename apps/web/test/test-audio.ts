// The audio side of the component tests. The real AudioController plays through a MediaSource, which no DOM library
// has; this one keeps the parts the components read and change — the engine's real PlayQueue, a real OfflineLibrary
// over a memory piece store, the real byte accounting — and a now-playing state the test sets (playing, loading,
// an error), with the controller's own queue semantics. The components get it as their AudioController.
import { ByteAccounting, LruIndex, MemoryPieceStore, PlayQueue, type RepeatMode } from "@soundmesh/engine";
import { trackRecord, type TrackRecord } from "@soundmesh/protocol";
import type { AudioController, NowPlaying } from "../src/audio";
import { OfflineLibrary } from "../src/offline";

/** What the components use of the controller; the compiler keeps these in step with the real one. */
type Used = Pick<
  AudioController,
  | "queue"
  | "offline"
  | "subscribe"
  | "snapshot"
  | "playTracks"
  | "playNext"
  | "addToQueue"
  | "moveInQueue"
  | "removeFromQueue"
  | "jumpTo"
  | "setShuffle"
  | "cycleRepeat"
  | "toggle"
  | "next"
  | "seek"
  | "setVolume"
>;

export class TestAudio implements Used {
  readonly queue = new PlayQueue<TrackRecord>();
  readonly offline: OfflineLibrary;
  /** The controller's methods the components called, in order, with their arguments. */
  readonly actions: Array<{ name: string; args: unknown[] }> = [];
  private readonly accounting = new ByteAccounting();
  private readonly listeners = new Set<() => void>();
  private state = {
    playing: false,
    loading: false,
    positionSec: 0,
    volume: 1,
    error: undefined as string | undefined,
    networkProblem: undefined as string | undefined,
  };
  private readonly failed = new Map<string, string>();

  constructor() {
    const refuse = () => Promise.reject(new Error("no downloads in component tests"));
    this.offline = new OfflineLibrary(
      {
        manifests: { manifest: refuse },
        fetcher: { fetch: refuse },
        store: new MemoryPieceStore(),
        cacheIndex: new LruIndex(1 << 30),
      },
      "opus96",
      () => this.emit(),
    );
  }

  /** This object where a component wants the controller (it has every member they use, see `Used`). */
  get controller(): AudioController {
    return this as unknown as AudioController;
  }

  /** Changes what the player shows (as the engine's events would) and re-renders the components that show it. */
  set(change: Partial<TestAudio["state"]>, failed?: Record<string, string>): void {
    this.state = { ...this.state, ...change };
    if (failed) for (const [id, why] of Object.entries(failed)) this.failed.set(id, why);
    this.emit();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  /** Records the call and re-renders; the real controller's promise settles once the engine took the change. */
  private did(name: string, ...args: unknown[]): Promise<void> {
    this.actions.push({ name, args });
    this.emit();
    return Promise.resolve();
  }

  snapshot(): NowPlaying {
    const track = this.queue.current;
    return {
      queue: this.queue.items,
      index: this.queue.position,
      track,
      playing: this.state.playing,
      positionSec: this.state.positionSec,
      durationSec: (track?.durationMs ?? 0) / 1000,
      volume: this.state.volume,
      shuffle: this.queue.isShuffled,
      repeat: this.queue.repeat,
      bytes: this.accounting.snapshot(),
      bufferedAheadSec: 0,
      error: this.state.error,
      networkProblem: this.state.networkProblem,
      loading: this.state.loading,
      failed: this.failed,
    };
  }

  playTracks(tracks: TrackRecord[], index: number): Promise<void> {
    this.queue.replace(tracks, index);
    return this.did(
      "playTracks",
      tracks.map((t) => t.id),
      index,
    );
  }

  playNext(tracks: TrackRecord[]): Promise<void> {
    this.queue.playNext(tracks);
    return this.did(
      "playNext",
      tracks.map((t) => t.id),
    );
  }

  addToQueue(tracks: TrackRecord[]): Promise<void> {
    this.queue.add(tracks);
    return this.did(
      "addToQueue",
      tracks.map((t) => t.id),
    );
  }

  moveInQueue(from: number, to: number): Promise<void> {
    this.queue.move(from, to);
    return this.did("moveInQueue", from, to);
  }

  removeFromQueue(index: number): Promise<void> {
    this.queue.remove(index);
    return this.did("removeFromQueue", index);
  }

  jumpTo(index: number): Promise<void> {
    this.queue.jump(index);
    return this.did("jumpTo", index);
  }

  setShuffle(on: boolean): Promise<void> {
    this.queue.setShuffle(on);
    return this.did("setShuffle", on);
  }

  cycleRepeat(): Promise<void> {
    const order: RepeatMode[] = ["off", "all", "one"];
    this.queue.repeat = order[(order.indexOf(this.queue.repeat) + 1) % order.length]!;
    return this.did("cycleRepeat");
  }

  toggle(): void {
    if (!this.queue.current) return;
    this.state.playing = !this.state.playing;
    void this.did("toggle");
  }

  next(delta: 1 | -1): Promise<void> {
    this.queue.skip(delta);
    return this.did("next", delta);
  }

  seek(trackSec: number): Promise<void> {
    this.state.positionSec = trackSec;
    return this.did("seek", trackSec);
  }

  setVolume(volume: number): void {
    this.state.volume = volume;
    void this.did("setVolume", volume);
  }
}

/** A catalog track record as the server sends it (checked by the protocol's schema). */
export function trackOf(n: number, change: Partial<TrackRecord> = {}): TrackRecord {
  return trackRecord.parse({
    id: `t${n}`,
    title: `Song ${n}`,
    artist: "The Testers",
    artistId: "ar1",
    artists: [{ id: "ar1", name: "The Testers" }],
    album: "First Album",
    albumId: "al1",
    albumArtist: "The Testers",
    hasCover: false,
    trackNumber: n,
    discNumber: 1,
    year: 2020,
    genre: null,
    durationMs: 180_000 + n * 1000,
    codec: "flac",
    bitrateKbps: null,
    musicBrainzTrackId: null,
    replayGain: { trackGainDb: null, albumGainDb: null },
    addedAt: 1_700_000_000_000,
    ...change,
  });
}
