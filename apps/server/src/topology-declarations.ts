// What the code says the topology is: every service's manifest and the infrastructure each one uses. The expected
// graph is built from this list alone, so its version changes exactly when the code's does.
import type { ServiceManifest } from "@soundmesh/bus";
import { accessPointManifest } from "@soundmesh/service-access-point";
import { catalogManifest } from "@soundmesh/service-catalog";
import { eventsManifest } from "@soundmesh/service-events";
import { playlistManifest } from "@soundmesh/service-playlist";
import { recommendManifest } from "@soundmesh/service-recommend";
import { searchManifest } from "@soundmesh/service-search";
import { storageManifest } from "@soundmesh/service-storage";
import {
  buildExpectedGraph,
  topologyManifest,
  type ExpectedGraph,
  type InfraDeclaration,
} from "@soundmesh/service-topology";
import { trackerManifest } from "@soundmesh/service-tracker";
import { userManifest } from "@soundmesh/service-user";

export const serviceManifests: readonly ServiceManifest[] = [
  accessPointManifest,
  userManifest,
  catalogManifest,
  searchManifest,
  storageManifest,
  playlistManifest,
  trackerManifest,
  topologyManifest,
  eventsManifest,
  recommendManifest,
];

/** The services that own SQL tables; each has a database of its own in the graph ("database:<service>"). */
export const servicesWithDatabase = ["user", "catalog", "playlist", "events"] as const;

/** Besides the bus: databases, NATS (cluster mode), the library folders the catalog and storage read, ffmpeg. */
export const infraDeclarations: readonly InfraDeclaration[] = serviceManifests.map(({ service }) => {
  const uses: string[] = ["nats"];
  if ((servicesWithDatabase as readonly string[]).includes(service)) uses.push(`database:${service}`);
  if (service === "catalog") uses.push("library");
  if (service === "storage") uses.push("library", "ffmpeg");
  if (service === "topology") uses.push("webhook");
  if (service === "events") uses.push("event-buckets");
  // The recommend service reads the closed buckets' files for its builds.
  if (service === "recommend") uses.push("event-buckets");
  return { service, uses };
});

export function expectedTopology(): ExpectedGraph {
  return buildExpectedGraph(serviceManifests, infraDeclarations);
}
