// Loops in the service graph: a service depends on those it calls and on the publishers of the events it follows;
// a loop means two policies for one job (as catalog and storage once had), so the declared graph must have none.
import type { ServiceManifest } from "@soundmesh/bus";

/** What each service depends on: its calls (but itself) and the services publishing the topics it subscribes to. */
export function serviceDependencies(manifests: readonly ServiceManifest[]): Map<string, Set<string>> {
  const publishers = new Map<string, string[]>();
  for (const { service, publishes = [] } of manifests)
    for (const topic of publishes) publishers.set(topic, [...(publishers.get(topic) ?? []), service]);
  const dependencies = new Map<string, Set<string>>();
  for (const { service, calls, subscribes = [] } of manifests) {
    const on = new Set(calls.filter((callee) => callee !== service));
    for (const topic of subscribes)
      for (const publisher of publishers.get(topic) ?? []) if (publisher !== service) on.add(publisher);
    dependencies.set(service, on);
  }
  return dependencies;
}

/** The first loop found, as the services along it with the first repeated at the end; undefined when none. */
export function findDependencyCycle(manifests: readonly ServiceManifest[]): string[] | undefined {
  const dependencies = serviceDependencies(manifests);
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (service: string): string[] | undefined => {
    const start = path.indexOf(service);
    if (start >= 0) return [...path.slice(start), service];
    if (done.has(service)) return undefined;
    path.push(service);
    for (const next of [...(dependencies.get(service) ?? [])].sort()) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(service);
    return undefined;
  };
  for (const service of [...dependencies.keys()].sort()) {
    const cycle = visit(service);
    if (cycle) return cycle;
  }
  return undefined;
}
