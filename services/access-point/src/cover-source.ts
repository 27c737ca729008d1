// Where the access point gets album covers: the catalog over the bus (all-in-one: it keeps them on its disk), or in
// cluster mode through the storage ring: the nodes owning the cover's key keep it on their disks (asking the catalog
// the first time), then the catalog itself when no owner answers.
import type { ServiceBus } from "@soundmesh/bus";
import { catalogContract, storageContract, type CoverImage } from "@soundmesh/protocol";
import { readThroughOwners, type RingRenditionReaderOptions } from "./ring-rendition-reader";

export type CoverSize = 64 | 300 | 600;
export type CoverSource = (albumId: string, size: CoverSize, traceId?: string) => Promise<CoverImage>;

const traced = (traceId: string | undefined) => (traceId === undefined ? {} : { traceId });

/** The catalog: it reads the art, refuses images over the pixel cap and resizes. */
export const busCoverSource =
  (bus: ServiceBus): CoverSource =>
  (albumId, size, traceId) =>
    bus.request(catalogContract, "cover", { albumId, size }, traced(traceId));

/** The ring key of an album's cover at one size. */
export const coverKey = (albumId: string, size: number): string => `cover/${albumId}/${size}`;

/** Covers through the ring: the owning storage nodes (`storage.cover` addressed to each), then the catalog. */
export function ringCoverSource(
  bus: ServiceBus,
  options: Pick<RingRenditionReaderOptions, "owners" | "onRead">,
): CoverSource {
  const origin = busCoverSource(bus);
  return (albumId, size, traceId) =>
    readThroughOwners(
      options,
      coverKey(albumId, size),
      (node) =>
        bus.request(storageContract, "cover", { albumId, size }, { ...traced(traceId), instance: node }),
      () => origin(albumId, size, traceId),
    );
}
