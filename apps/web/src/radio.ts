// Radio in the player: a queue that follows a seed (a track, an album, an artist or a playlist) and asks the recommend
// service for more whenever it runs low, never for what the queue played or holds already. It stops following once
// something else replaces the queue. Pages reach the one Radio of the session through RadioContext.
import { createContext, useCallback, useContext, useSyncExternalStore } from "react";
import { AppError, recommendContract, type RadioSeed, type TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "./audio";
import type { Connection } from "./connection";
import { tracksOf } from "./track-records";

export interface RadioState {
  /** What the radio follows; undefined while no radio plays. */
  seed: RadioSeed | undefined;
  /** The seed's name, for people ("Svefn-g-englar"). */
  label: string;
  /** starting: the first tracks are asked for; loading: more are; error: the last ask failed (see `error`). */
  status: "off" | "starting" | "playing" | "loading" | "error";
  error: string | undefined;
}

const OFF: RadioState = { seed: undefined, label: "", status: "off", error: undefined };
/** Tracks asked for at a time, and how few left after the playing one make the radio ask for more. */
const BATCH = 10;
const LOW_WATER = 3;
/** The recommend service takes at most this many ids to leave out (the most recent count). */
const EXCLUDE_MAX = 2_000;
/** After a failed ask, the queue's changes do not ask again sooner than this (the listener may retry at once). */
const RETRY_AFTER_MS = 15_000;

/** What a listener reads when radio cannot play, by the service's typed codes. */
export function radioProblem(error: unknown): string {
  const problems: Partial<Record<string, string>> = {
    INDEX_NOT_BUILT: "Radio is not ready yet: the server has not built its index. Try again later.",
    NOT_FOUND: "Radio knows nothing to play from here yet.",
    TIMEOUT: "The server did not answer. Try again.",
    UNAVAILABLE: "The server did not answer. Try again.",
  };
  if (error instanceof AppError) return problems[error.code] ?? error.message;
  return error instanceof Error ? error.message : String(error);
}

export class Radio {
  private state: RadioState = OFF;
  /** The queue the radio fills: the audio controller's generation when the radio started it. */
  private generation = -1;
  private starts = 0;
  private isFetching = false;
  /** The service had nothing more to offer: the radio stops asking until it is started again. */
  private isExhausted = false;
  private failedAt = -Infinity;
  private readonly listeners = new Set<() => void>();
  private readonly stopFollowing: () => void;

  constructor(
    private readonly connection: Connection,
    private readonly audio: AudioController,
  ) {
    this.stopFollowing = audio.subscribe(() => this.onQueueChange());
  }

  close(): void {
    this.stopFollowing();
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly snapshot = (): RadioState => this.state;

  private set(state: RadioState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  /** Plays a new radio: the seed track first (when the seed is a track), then the service's first tracks. */
  async start(seed: RadioSeed, label: string, seedTrack?: TrackRecord): Promise<void> {
    const start = ++this.starts;
    this.generation = -1;
    this.set({ seed, label, status: "starting", error: undefined });
    try {
      const tracks = await this.ask(seed, seedTrack ? [seedTrack.id] : []);
      if (start !== this.starts) return;
      const queue = seedTrack ? [seedTrack, ...tracks] : tracks;
      if (queue.length === 0) throw new Error("Radio found nothing to play from here.");
      this.isExhausted = false;
      this.failedAt = -Infinity;
      // playTracks takes the new generation before it awaits anything: the radio follows this queue from here on.
      const playing = this.audio.playTracks(queue, 0);
      this.generation = this.audio.queueGeneration;
      this.set({ seed, label, status: "playing", error: undefined });
      await playing;
    } catch (error) {
      if (start === this.starts) this.set({ seed, label, status: "error", error: radioProblem(error) });
    }
  }

  /** Stops following: the queue stays as it is and nothing more is added. */
  stop(): void {
    this.starts++;
    this.generation = -1;
    this.set(OFF);
  }

  /** Asks for more now (after an error, or to run ahead of the queue). */
  more(): Promise<void> {
    this.isExhausted = false;
    this.failedAt = -Infinity;
    return this.fillUp();
  }

  private get isFollowing(): boolean {
    return this.state.seed !== undefined && this.generation === this.audio.queueGeneration;
  }

  private onQueueChange(): void {
    if (this.state.seed === undefined || this.state.status === "starting") return;
    if (!this.isFollowing) {
      // Something else replaced the queue: this radio is over.
      if (this.generation !== -1) this.stop();
      return;
    }
    const { items, position } = this.audio.queue;
    const left = items.length - 1 - position;
    if (left <= LOW_WATER && !this.isExhausted && Date.now() - this.failedAt >= RETRY_AFTER_MS)
      void this.fillUp();
  }

  private async fillUp(): Promise<void> {
    const { seed, label } = this.state;
    if (this.isFetching || !seed || !this.isFollowing) return;
    this.isFetching = true;
    this.set({ seed, label, status: "loading", error: undefined });
    try {
      // Everything the queue played or holds, the most recent last: the service answers none of them.
      const exclude = [...new Set(this.audio.queue.items.map((entry) => entry.track.id))];
      const tracks = await this.ask(seed, exclude.slice(-EXCLUDE_MAX));
      if (!this.isFollowing) return;
      if (tracks.length === 0) this.isExhausted = true;
      else await this.audio.addToQueue(tracks);
      this.set({ seed, label, status: "playing", error: undefined });
    } catch (error) {
      this.failedAt = Date.now();
      if (this.isFollowing) this.set({ seed, label, status: "error", error: radioProblem(error) });
    } finally {
      this.isFetching = false;
    }
  }

  private async ask(seed: RadioSeed, exclude: string[]): Promise<TrackRecord[]> {
    const { tracks } = await this.connection.call(recommendContract, "radio", {
      seed,
      limit: BATCH,
      exclude,
    });
    return tracksOf(
      this.connection,
      tracks.map((track) => track.trackId),
    );
  }
}

export const RadioContext = createContext<Radio | undefined>(undefined);

/** The session's radio and its state (re-rendering on each change); undefined radio outside a signed-in session. */
export function useRadio(): { radio: Radio | undefined; state: RadioState } {
  const radio = useContext(RadioContext);
  const subscribe = useCallback(
    (listener: () => void) => radio?.subscribe(listener) ?? (() => undefined),
    [radio],
  );
  const state = useSyncExternalStore(subscribe, () => radio?.snapshot() ?? OFF);
  return { radio, state };
}
