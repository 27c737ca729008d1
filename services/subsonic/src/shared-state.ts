// What the Subsonic API remembers between requests: who is playing what (getNowPlaying), and lists built from the
// whole catalog (artists, genres), kept until the catalog changes.
import type { Body } from "./response";

export interface NowPlayingEntry {
  userName: string;
  trackId: string;
  playerName: string;
  startedAtMs: number;
  /** When the entry stops being "now": the track's length after it started. */
  untilMs: number;
}

const MAX_NOW_PLAYING = 1_000;

export class SharedState {
  private readonly nowPlaying = new Map<string, NowPlayingEntry>();
  private readonly cached = new Map<string, { generation: number; value: Promise<unknown> }>();
  private generation = 0;

  constructor(private readonly nowMs: () => number = () => Date.now()) {}

  /** The catalog changed: lists built from it are built again when next asked. */
  catalogChanged(): void {
    this.generation += 1;
    this.cached.clear();
  }

  /** The value built by `build` since the last catalog change (one build shared by concurrent askers). */
  async catalogCached<T>(key: string, build: () => Promise<T>): Promise<T> {
    const entry = this.cached.get(key);
    if (entry && entry.generation === this.generation) return entry.value as Promise<T>;
    const value = build();
    this.cached.set(key, { generation: this.generation, value });
    value.catch(() => this.cached.delete(key));
    return value;
  }

  playing(userId: string, entry: NowPlayingEntry): void {
    this.nowPlaying.delete(userId);
    if (this.nowPlaying.size >= MAX_NOW_PLAYING)
      this.nowPlaying.delete(this.nowPlaying.keys().next().value as string);
    this.nowPlaying.set(userId, entry);
  }

  stopped(userId: string): void {
    this.nowPlaying.delete(userId);
  }

  current(): NowPlayingEntry[] {
    const now = this.nowMs();
    for (const [userId, entry] of this.nowPlaying) if (entry.untilMs <= now) this.nowPlaying.delete(userId);
    return [...this.nowPlaying.values()];
  }
}

export type { Body };
