// The names `soundmesh service` and cluster.json accept: every service that runs as processes of its own, and the
// typed error a mistyped one gets (with the nearest name, when one is close).
import { AppError } from "@soundmesh/protocol";

export const clusterServices = [
  "access-point",
  "user",
  "catalog",
  "search",
  "storage",
  "playlist",
  "tracker",
  "topology",
  "events",
  "recommend",
] as const;
export type ClusterService = (typeof clusterServices)[number];

/** The services that keep their state in SQL: their processes need PostgreSQL. */
export const sqlServices: readonly ClusterService[] = ["user", "catalog", "playlist", "events"];

export const isClusterService = (name: string): name is ClusterService =>
  (clusterServices as readonly string[]).includes(name);

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The name as a service, or VALIDATION_FAILED naming the nearest service and every one allowed. */
export function checkServiceName(name: string): ClusterService {
  if (isClusterService(name)) return name;
  const [nearest] = [...clusterServices].sort((a, b) => editDistance(name, a) - editDistance(name, b));
  const hint = nearest && editDistance(name, nearest) <= 3 ? ` (did you mean ${nearest}?)` : "";
  throw new AppError(
    "VALIDATION_FAILED",
    `no service is called ${JSON.stringify(name)}${hint}; the services are ${clusterServices.join(", ")}`,
  );
}
