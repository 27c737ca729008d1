// Reading through the ring: ask the nodes that own a key in order (owner, then replicas), then the origin (the
// library and a transcode). A node that is down, slow or refuses counts as a miss, never as the reader's failure.
import { AppError, toAppError } from "@soundmesh/protocol";

export interface OwnerMiss {
  node: string;
  /** "miss" when the node answered without the key, else the error code it failed with. */
  reason: string;
}

export interface OwnerRead<T> {
  value: T;
  /** The node that answered, or "origin". */
  source: string;
  misses: OwnerMiss[];
}

export interface OwnerReaderOptions<T> {
  /** The nodes that own a key, owner first (e.g. `(key) => watcher.ring().owners(key, 2)`). */
  owners: (key: string) => readonly string[];
  /** Asks one node; undefined when it does not hold the key. Throwing marks the node as failed for this read. */
  fromNode: (node: string, key: string) => Promise<T | undefined>;
  /** The truth: the library and transcoding. Its errors are the reader's. */
  fromOrigin: (key: string) => Promise<T>;
}

export interface OwnerReader<T> {
  read(key: string): Promise<OwnerRead<T>>;
}

export function createOwnerReader<T>(options: OwnerReaderOptions<T>): OwnerReader<T> {
  return {
    async read(key) {
      if (typeof key !== "string" || key.length === 0) {
        throw new AppError("VALIDATION_FAILED", "a ring key is a non-empty string");
      }
      const misses: OwnerMiss[] = [];
      for (const node of options.owners(key)) {
        try {
          const value = await options.fromNode(node, key);
          if (value !== undefined) return { value, source: node, misses };
          misses.push({ node, reason: "miss" });
        } catch (error) {
          misses.push({ node, reason: toAppError(error).code });
        }
      }
      return { value: await options.fromOrigin(key), source: "origin", misses };
    },
  };
}
