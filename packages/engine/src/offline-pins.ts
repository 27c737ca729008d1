// "Make available offline": fetches every piece of a track into the client cache and pins it, so the LRU never evicts it.
import type { LruIndex } from "./lru-index";
import type { PieceFetcher } from "./piece-fetcher";
import { trackKey, type PieceStore } from "./sources";
import type { Manifest } from "./timeline";

export interface PinDeps {
  /** Manifests that are kept with the pieces (CachedManifests), so a pinned track needs no request. */
  manifests: { manifest(trackId: string, profile: string, signal?: AbortSignal): Promise<Manifest> };
  fetcher: Pick<PieceFetcher, "fetch">;
  store: PieceStore & { setPinned?(key: string, pinned: boolean): Promise<void> };
  cacheIndex: LruIndex;
}

/** Pins first, then fills: pieces written while pinning can never push the track itself out. */
export async function pinTrack(
  deps: PinDeps,
  trackId: string,
  profile: string,
  signal: AbortSignal,
): Promise<void> {
  const manifest = await deps.manifests.manifest(trackId, profile, signal);
  const key = trackKey({ trackId, profile });
  for (const evicted of deps.cacheIndex.touch(key, await deps.store.size(key)))
    await deps.store.delete(evicted);
  deps.cacheIndex.pin(key, true);
  await deps.store.setPinned?.(key, true);
  const track = { trackId, profile, manifest };
  for (let index = 0; index < manifest.pieceCount; index++)
    await deps.fetcher.fetch(track, index, Number.POSITIVE_INFINITY, signal);
}

/** Unpins: the track stays cached but may now be evicted like any played track. */
export async function unpinTrack(deps: PinDeps, trackId: string, profile: string): Promise<void> {
  const key = trackKey({ trackId, profile });
  await deps.store.setPinned?.(key, false);
  for (const evicted of deps.cacheIndex.pin(key, false)) await deps.store.delete(evicted);
}

export function isPinned(cacheIndex: LruIndex, trackId: string, profile: string): boolean {
  return cacheIndex.list().some((entry) => entry.key === trackKey({ trackId, profile }) && entry.pinned);
}
