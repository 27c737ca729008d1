// Track records for ids the services answer with (top lists, radio, similar tracks), in the ids' order; ids the
// catalog no longer has are left out.
import { catalogContract, type TrackRecord } from "@soundmesh/protocol";
import type { Connection } from "./connection";

export async function tracksOf(connection: Connection, ids: string[]): Promise<TrackRecord[]> {
  if (ids.length === 0) return [];
  const found = await connection.call(catalogContract, "tracks", {
    trackIds: [...new Set(ids)].slice(0, 500),
  });
  const byId = new Map(found.map((track) => [track.id, track]));
  return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
}
