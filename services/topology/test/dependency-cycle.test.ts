// Loops in a declared service graph: calls and followed events both make a service depend on another.
import { describe, expect, it } from "vitest";
import { findDependencyCycle, serviceDependencies } from "@soundmesh/service-topology";

describe("dependency cycles", () => {
  it("finds a loop of calls, naming the services along it", () => {
    const manifests = [
      { service: "catalog", calls: ["storage"] },
      { service: "storage", calls: ["catalog"] },
      { service: "gateway", calls: ["catalog", "storage"] },
    ];
    expect(findDependencyCycle(manifests)).toEqual(["catalog", "storage", "catalog"]);
  });

  it("counts following an event as depending on its publisher, and finds longer loops", () => {
    const manifests = [
      { service: "a", calls: ["b"] },
      { service: "b", calls: [], subscribes: ["c.changed"] },
      { service: "c", calls: ["a"], publishes: ["c.changed"] },
    ];
    expect(serviceDependencies(manifests).get("b")).toEqual(new Set(["c"]));
    expect(findDependencyCycle(manifests)).toEqual(["a", "b", "c", "a"]);
  });

  it("accepts a graph without loops: a subscriber calling the publisher, shared callees, self-calls", () => {
    const manifests = [
      { service: "catalog", calls: [], publishes: ["catalog.changed"] },
      { service: "storage", calls: ["catalog", "storage"], subscribes: ["catalog.changed"] },
      { service: "search", calls: ["catalog"], subscribes: ["catalog.changed", "nobody.publishes"] },
      { service: "gateway", calls: ["catalog", "storage", "search"] },
    ];
    expect(findDependencyCycle(manifests)).toBeUndefined();
    expect(findDependencyCycle([])).toBeUndefined();
  });
});
