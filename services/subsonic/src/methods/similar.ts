// Similar songs and artists from our radio (the recommend service's item2vec + hnswlib index, over the bus):
// getSimilarSongs (from a song, album or artist), getSimilarSongs2 (from an artist), and the similar artists of
// getArtistInfo/2 (the artists of the radio's nearest tracks).
import {
  catalogContract,
  recommendContract,
  toAppError,
  type ArtistRecord,
  type RadioSeed,
} from "@soundmesh/protocol";
import { artistsByIds, tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { idOfKind, type IdKind } from "../ids";
import { songsOf } from "../mapping";

/** The radio answers at most this many tracks at a time. */
const RADIO_LIMIT = 100;

/** Looked up first, so an id the catalog does not have is "not found" (70), as everywhere else. */
async function checkExists(context: MethodContext, kind: RadioSeed["kind"], id: string): Promise<void> {
  if (kind === "track") await context.call(catalogContract, "track", { trackId: id });
  else if (kind === "album") await context.call(catalogContract, "album", { albumId: id });
  else if (kind === "artist") await context.call(catalogContract, "artist", { artistId: id });
}

/**
 * The radio's tracks near a seed the catalog has. No index built yet, or a seed it does not hold yet (added since
 * the last build), answers no tracks rather than an error: "nothing similar known", as servers without an agent do.
 */
export async function radioTrackIds(
  context: MethodContext,
  seed: RadioSeed,
  limit: number,
): Promise<string[]> {
  if (limit === 0) return [];
  try {
    const { tracks } = await context.call(recommendContract, "radio", {
      seed,
      limit: Math.min(RADIO_LIMIT, limit),
      exclude: [],
    });
    return tracks.map((track) => track.trackId);
  } catch (error) {
    const code = toAppError(error).code;
    if (code === "INDEX_NOT_BUILT" || code === "NOT_FOUND") return [];
    throw error;
  }
}

async function similarSongs(context: MethodContext, ...kinds: Array<RadioSeed["kind"] & IdKind>) {
  const { kind, id } = idOfKind(context.params.string("id", 100), ...kinds);
  const count = context.params.intOr("count", 50, 0, RADIO_LIMIT);
  await checkExists(context, kind, id);
  const ids = await radioTrackIds(context, { kind, id }, count);
  return songsOf(context, await tracksByIds(context, ids));
}

/** Artists other than `artistId` credited on the radio's tracks near it, nearest first, at most `count`. */
export async function similarArtists(
  context: MethodContext,
  artistId: string,
  count: number,
): Promise<ArtistRecord[]> {
  const tracks = await tracksByIds(
    context,
    await radioTrackIds(context, { kind: "artist", id: artistId }, RADIO_LIMIT),
  );
  const ids: string[] = [];
  for (const track of tracks)
    for (const credit of [{ id: track.artistId }, ...track.artists])
      if (credit.id !== artistId && !ids.includes(credit.id)) ids.push(credit.id);
  return artistsByIds(context, ids.slice(0, count));
}

export const similarMethods: MethodTable = {
  async getSimilarSongs(context) {
    return { similarSongs: { song: await similarSongs(context, "track", "album", "artist") } };
  },
  async getSimilarSongs2(context) {
    return { similarSongs2: { song: await similarSongs(context, "artist") } };
  },
};
