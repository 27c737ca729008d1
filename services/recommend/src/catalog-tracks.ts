// The build's vocabulary from the catalog over the bus: every track id a page at a time, their tags, and the folder
// each file sits in (from the playlist-export entries, which carry the path relative to its library folder).
import type { ServiceBus } from "@soundmesh/bus";
import { catalogContract } from "@soundmesh/protocol";
import type { TrackFeatures } from "./track-features";

const ID_PAGE = 5_000;
const TRACK_PAGE = 500;

export async function catalogTracks(bus: ServiceBus, signal?: AbortSignal): Promise<TrackFeatures[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += ID_PAGE) {
    signal?.throwIfAborted();
    const { trackIds } = await bus.request(catalogContract, "recentTrackIds", { limit: ID_PAGE, offset });
    ids.push(...trackIds);
    if (trackIds.length < ID_PAGE) break;
  }
  const features: TrackFeatures[] = [];
  for (let start = 0; start < ids.length; start += ID_PAGE) {
    signal?.throwIfAborted();
    const slice = ids.slice(start, start + ID_PAGE);
    const entries = await bus.request(catalogContract, "trackEntries", { trackIds: slice });
    const folders = new Map(
      entries.map((entry) => [entry.trackId, entry.relativePath.split("/").slice(0, -1).join("/")]),
    );
    for (let at = 0; at < slice.length; at += TRACK_PAGE) {
      const tracks = await bus.request(catalogContract, "tracks", {
        trackIds: slice.slice(at, at + TRACK_PAGE),
      });
      for (const track of tracks)
        features.push({
          id: track.id,
          artistId: track.artistId,
          albumId: track.albumId,
          genre: track.genre,
          year: track.year,
          folder: folders.get(track.id) ?? null,
        });
    }
  }
  return features;
}
