// A consistent-hash ring: each node stands at `virtualNodes` points (hashes of "<node>#<i>"), a key belongs to the
// first point clockwise from its hash, and its replicas to the next distinct nodes. A node joining or leaving moves
// only the keys between its points and their predecessors: close to 1/N of them.
import { createHash } from "node:crypto";

export const defaultVirtualNodes = 128;

/** A point on the ring: the first 48 bits of the key's SHA-1, as a number (exact in a double). */
export function ringPosition(text: string): number {
  return createHash("sha1").update(text).digest().readUIntBE(0, 6);
}

export class HashRing {
  readonly nodes: readonly string[];
  readonly virtualNodes: number;
  private readonly positions: Float64Array;
  /** Index into `nodes` of the node at each position. */
  private readonly pointNodes: Uint32Array;

  constructor(nodes: Iterable<string>, options: { virtualNodes?: number } = {}) {
    this.nodes = [...new Set(nodes)].sort();
    this.virtualNodes = options.virtualNodes ?? defaultVirtualNodes;
    if (!Number.isInteger(this.virtualNodes) || this.virtualNodes < 1) {
      throw new RangeError(`virtualNodes must be a positive integer, not ${this.virtualNodes}`);
    }
    const points: Array<[number, number]> = [];
    this.nodes.forEach((node, index) => {
      for (let i = 0; i < this.virtualNodes; i++) points.push([ringPosition(`${node}#${i}`), index]);
    });
    // Ties (vanishingly rare at 48 bits) are broken by node name, so every process builds the same ring.
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.positions = Float64Array.from(points, (point) => point[0]);
    this.pointNodes = Uint32Array.from(points, (point) => point[1]);
  }

  withNode(node: string): HashRing {
    return new HashRing([...this.nodes, node], { virtualNodes: this.virtualNodes });
  }

  withoutNode(node: string): HashRing {
    return new HashRing(
      this.nodes.filter((member) => member !== node),
      { virtualNodes: this.virtualNodes },
    );
  }

  /** The nodes that hold `key`, first the owner, then up to `replicas - 1` further distinct nodes clockwise. */
  owners(key: string, replicas = 1): string[] {
    const wanted = Math.min(Math.max(1, Math.floor(replicas)), this.nodes.length);
    if (wanted === 0 || this.positions.length === 0) return [];
    const chosen: string[] = [];
    const seen = new Set<number>();
    const index = this.firstPointAtOrAfter(ringPosition(key));
    for (let step = 0; step < this.positions.length && chosen.length < wanted; step++) {
      const owner = this.pointNodes[(index + step) % this.positions.length]!;
      if (seen.has(owner)) continue;
      seen.add(owner);
      chosen.push(this.nodes[owner]!);
    }
    return chosen;
  }

  private firstPointAtOrAfter(position: number): number {
    let low = 0;
    let high = this.positions.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.positions[middle]! < position) low = middle + 1;
      else high = middle;
    }
    return low === this.positions.length ? 0 : low;
  }
}

/** How many of `keys` change their first owner (or, with replicas > 1, their owner set) between two rings. */
export function keysMoved(before: HashRing, after: HashRing, keys: readonly string[], replicas = 1): number {
  let moved = 0;
  for (const key of keys) {
    const a = before.owners(key, replicas);
    const b = after.owners(key, replicas);
    if (a.length !== b.length || a.some((node, i) => node !== b[i])) moved++;
  }
  return moved;
}

/** Rings without one node, kept per ring (a ring is immutable): a miss asks this for every new key. */
const ringsWithout = new WeakMap<HashRing, Map<string, HashRing>>();

/**
 * Where `node` finds a key it now owns but lacks: the key's owners on the ring as it would be without `node` (before
 * it joined, those held the key; since, they are the next in line). None when `node` is not among the key's owners.
 */
export function previousOwners(ring: HashRing, node: string, key: string, replicas = 1): string[] {
  if (!ring.owners(key, replicas).includes(node)) return [];
  let without = ringsWithout.get(ring);
  if (!without) ringsWithout.set(ring, (without = new Map<string, HashRing>()));
  let smaller = without.get(node);
  if (!smaller) without.set(node, (smaller = ring.withoutNode(node)));
  return smaller.owners(key, replicas);
}
