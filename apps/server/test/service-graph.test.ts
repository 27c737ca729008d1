// The declared service graph (every service's manifest, as the topology page draws it) has no loops.
import { describe, expect, it } from "vitest";
import { findDependencyCycle, serviceDependencies } from "@soundmesh/service-topology";
import { serviceManifests } from "../src/topology-declarations";

describe("the service graph", () => {
  it("has no loop through calls or followed events", () => {
    expect(findDependencyCycle(serviceManifests)).toBeUndefined();
  });

  it("has storage follow the catalog, and the catalog call no one", () => {
    const dependencies = serviceDependencies(serviceManifests);
    expect(dependencies.get("catalog")).toEqual(new Set());
    expect(dependencies.get("storage")).toEqual(new Set(["catalog"]));
  });
});
