// Tracks removed from the catalog since the search index was built: never offered, from the moment search hears of
// their removal until a rebuild begun after it is swapped in. When a change did not name its removed tracks (too
// many), track hits are checked against the catalog until then instead.
import type { RankedAnswer, RankedHit } from "./ranking";

export class ForgottenTracks {
  /** Counts the catalog changes heard; a rebuild covers every change heard before it began. */
  private heardCount = 0;
  private readonly removedAt = new Map<string, number>();
  private verifyUntil: number | undefined;

  /** Called on catalog.changed, before the rebuild it causes. */
  heard(change: { removed: number; removedTrackIds?: readonly string[] | undefined }): void {
    this.heardCount += 1;
    for (const id of change.removedTrackIds ?? []) this.removedAt.set(id, this.heardCount);
    if (change.removed > 0 && change.removedTrackIds === undefined) this.verifyUntil = this.heardCount;
  }

  /** What a rebuild starting now will cover; pass it to rebuilt() once its index is swapped in. */
  startRebuild(): number {
    return this.heardCount;
  }

  rebuilt(covered: number): void {
    for (const [id, heard] of this.removedAt) if (heard <= covered) this.removedAt.delete(id);
    if (this.verifyUntil !== undefined && this.verifyUntil <= covered) this.verifyUntil = undefined;
  }

  get size(): number {
    return this.removedAt.size;
  }

  /** Whether track hits must be checked against the catalog (removed ids not known). */
  get mustVerify(): boolean {
    return this.verifyUntil !== undefined;
  }

  /** The answer without removed tracks, and without tracks not in `playable` when given. */
  filter(answer: RankedAnswer, playable?: ReadonlySet<string>): RankedAnswer {
    const isGone = (hit: RankedHit["hit"]) =>
      hit.kind === "track" &&
      (this.removedAt.has(hit.id) || (playable !== undefined && !playable.has(hit.id)));
    if (this.removedAt.size === 0 && playable === undefined) return answer;
    let dropped = 0;
    const keep = (list: RankedHit[]) =>
      list.filter(({ hit }) => {
        if (!isGone(hit)) return true;
        dropped += 1;
        return false;
      });
    const ranked = keep(answer.ranked);
    const groups = new Map(
      [...answer.groups].map(([kind, group]) => {
        const left = group.ranked.filter(({ hit }) => !isGone(hit));
        const total = Math.max(0, group.total - (group.ranked.length - left.length));
        return [kind, { ...group, ranked: left, total }];
      }),
    );
    return { ranked, total: Math.max(0, answer.total - dropped), groups };
  }

  /** The track ids of an answer, to check against the catalog. */
  static trackIdsOf(answer: RankedAnswer): string[] {
    const ids = new Set<string>();
    for (const list of [answer.ranked, ...[...answer.groups.values()].map((group) => group.ranked)])
      for (const { hit } of list) if (hit.kind === "track") ids.add(hit.id);
    return [...ids];
  }
}
