// The listener's queue: play order, play next / add / move / remove, shuffle that can be undone, and repeat modes.

export type RepeatMode = "off" | "all" | "one";

export interface QueueEntry<T> {
  /** Unique within the queue, so the same track can be queued twice. */
  entryId: number;
  track: T;
}

export class PlayQueue<T> {
  private entries: QueueEntry<T>[] = [];
  /** The order before shuffling, restored when shuffle is turned off. */
  private unshuffled: QueueEntry<T>[] | undefined;
  private nextEntryId = 1;
  position = 0;
  repeat: RepeatMode = "off";

  constructor(private readonly random: () => number = Math.random) {}

  get items(): readonly QueueEntry<T>[] {
    return this.entries;
  }

  get current(): T | undefined {
    return this.entries[this.position]?.track;
  }

  get isShuffled(): boolean {
    return this.unshuffled !== undefined;
  }

  private wrap(tracks: readonly T[]): QueueEntry<T>[] {
    return tracks.map((track) => ({ entryId: this.nextEntryId++, track }));
  }

  /** A new queue (an album, a search hit) starting at `position`; shuffle stays on if it was. */
  replace(tracks: readonly T[], position = 0): void {
    this.entries = this.wrap(tracks);
    this.position = Math.max(0, Math.min(position, this.entries.length - 1));
    this.unshuffled = undefined;
  }

  playNext(tracks: readonly T[]): void {
    const added = this.wrap(tracks);
    this.entries.splice(this.entries.length === 0 ? 0 : this.position + 1, 0, ...added);
    this.unshuffled?.push(...added);
  }

  add(tracks: readonly T[]): void {
    const added = this.wrap(tracks);
    this.entries.push(...added);
    this.unshuffled?.push(...added);
  }

  /** Moves an entry; the playing entry stays the playing one wherever it ends up. */
  move(from: number, to: number): void {
    if (from < 0 || from >= this.entries.length || to < 0 || to >= this.entries.length) return;
    const playing = this.entries[this.position];
    const [moved] = this.entries.splice(from, 1);
    this.entries.splice(to, 0, moved!);
    this.position = this.entries.indexOf(playing!);
  }

  /** Removes an entry; removing the playing one makes the next one current. */
  remove(index: number): void {
    const [removed] = this.entries.splice(index, 1);
    if (!removed) return;
    if (this.unshuffled) this.unshuffled = this.unshuffled.filter((e) => e !== removed);
    if (index < this.position) this.position -= 1;
    this.position = Math.max(0, Math.min(this.position, this.entries.length - 1));
  }

  /** Shuffles what comes after the playing entry (it keeps playing); off restores the original order. */
  setShuffle(on: boolean): void {
    const playing = this.entries[this.position];
    if (on && !this.unshuffled) {
      this.unshuffled = [...this.entries];
      const rest = this.entries.filter((e) => e !== playing);
      for (let i = rest.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [rest[i], rest[j]] = [rest[j]!, rest[i]!];
      }
      this.entries = playing ? [playing, ...rest] : rest;
      this.position = 0;
    } else if (!on && this.unshuffled) {
      this.entries = this.unshuffled;
      this.unshuffled = undefined;
      this.position = playing ? Math.max(0, this.entries.indexOf(playing)) : 0;
    }
  }

  /** The position that follows `position` under the repeat mode, or undefined at the end of the queue. */
  nextPosition(position = this.position): number | undefined {
    if (this.entries.length === 0) return undefined;
    if (this.repeat === "one") return position;
    if (position + 1 < this.entries.length) return position + 1;
    return this.repeat === "all" ? 0 : undefined;
  }

  /** Moves on to the next entry (what the player does at a track's end); false at the end of the queue. */
  advance(): boolean {
    const next = this.nextPosition();
    if (next === undefined) return false;
    this.position = next;
    return true;
  }

  /** The user's "next": skips even a repeated-one track. */
  skip(delta: 1 | -1): boolean {
    const target = this.position + delta;
    if (target >= 0 && target < this.entries.length) {
      this.position = target;
      return true;
    }
    if (this.repeat === "all" && this.entries.length > 0) {
      this.position = (target + this.entries.length) % this.entries.length;
      return true;
    }
    return false;
  }

  jump(position: number): void {
    if (position >= 0 && position < this.entries.length) this.position = position;
  }
}
