// Where a storage node finds a rendition it now owns but lacks: the key's owners on the ring without it.
import { describe, expect, it } from "vitest";
import { HashRing, previousOwners } from "@soundmesh/bus";

const keys = Array.from({ length: 5_000 }, (_, i) => `track-${i}/opus96`);

describe("previousOwners", () => {
  it("after a join, names the nodes that owned each key the new node took", () => {
    const before = new HashRing(["storage-1", "storage-2", "storage-3"]);
    const after = before.withNode("storage-4");
    let taken = 0;
    for (const key of keys) {
      const peers = previousOwners(after, "storage-4", key, 2);
      if (!after.owners(key, 2).includes("storage-4")) {
        expect(peers).toEqual([]);
        continue;
      }
      taken += 1;
      expect(peers).toEqual(before.owners(key, 2));
      expect(peers).not.toContain("storage-4");
    }
    expect(taken).toBeGreaterThan(0);
  });

  it("after a leave, names the next nodes in line (the one that left is not among them)", () => {
    const after = new HashRing(["storage-1", "storage-2", "storage-3", "storage-4"]).withoutNode("storage-2");
    for (const key of keys.slice(0, 500)) {
      const [owner] = after.owners(key);
      expect(previousOwners(after, owner!, key, 2)).toEqual(after.withoutNode(owner!).owners(key, 2));
      expect(previousOwners(after, owner!, key, 2)).not.toContain("storage-2");
    }
  });

  it("is empty for a node that does not own the key, or is not on the ring", () => {
    const ring = new HashRing(["storage-1", "storage-2", "storage-3"]);
    const key = keys.find((k) => ring.owners(k)[0] === "storage-1")!;
    expect(previousOwners(ring, "storage-1", key, 1)).toEqual(ring.withoutNode("storage-1").owners(key, 1));
    expect(previousOwners(ring, ring.owners(key, 3)[2]!, key, 2)).toEqual([]);
    expect(previousOwners(ring, "storage-9", key, 2)).toEqual([]);
    expect(previousOwners(new HashRing([]), "storage-1", key, 2)).toEqual([]);
  });
});
