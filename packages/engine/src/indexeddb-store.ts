// The browser's client cache: verified pieces in IndexedDB, so played tracks survive reloads and play offline.
import type { PieceStore } from "./sources";
import type { Manifest } from "./timeline";

const PIECES = "pieces";
const TRACKS = "tracks";

export interface StoredTrack {
  key: string;
  sizeBytes: number;
  lastUsed: number;
  pinned: boolean;
  manifest?: Manifest;
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB request failed"));
  });
}

function committed(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error("IndexedDB transaction failed"));
    transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted"));
  });
}

export class IndexedDbPieceStore implements PieceStore {
  private constructor(private readonly db: IDBDatabase) {}

  /** Rejects after `timeoutMs` (another tab holding an old version open blocks an upgrade for ever). */
  static async open(name = "soundmesh-cache", timeoutMs = 5_000): Promise<IndexedDbPieceStore> {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(PIECES);
      request.result.createObjectStore(TRACKS, { keyPath: "key" });
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("IndexedDB did not open in time")), timeoutMs);
    });
    try {
      return new IndexedDbPieceStore(await Promise.race([done(request), timedOut]));
    } finally {
      clearTimeout(timer);
    }
  }

  async get(key: string, index: number): Promise<Uint8Array | undefined> {
    const value = await done(
      this.db.transaction(PIECES).objectStore(PIECES).get([key, index]) as IDBRequest<
        ArrayBuffer | undefined
      >,
    );
    return value ? new Uint8Array(value) : undefined;
  }

  async put(key: string, index: number, bytes: Uint8Array): Promise<void> {
    const transaction = this.db.transaction([PIECES, TRACKS], "readwrite");
    const pieces = transaction.objectStore(PIECES);
    const tracks = transaction.objectStore(TRACKS);
    const previous =
      (await done(pieces.get([key, index]) as IDBRequest<ArrayBuffer | undefined>))?.byteLength ?? 0;
    pieces.put(bytes.slice().buffer, [key, index]);
    const track = (await done(tracks.get(key) as IDBRequest<StoredTrack | undefined>)) ?? {
      key,
      sizeBytes: 0,
      lastUsed: 0,
      pinned: false,
    };
    tracks.put({ ...track, sizeBytes: track.sizeBytes - previous + bytes.byteLength, lastUsed: Date.now() });
    await committed(transaction);
  }

  async delete(key: string): Promise<void> {
    const transaction = this.db.transaction([PIECES, TRACKS], "readwrite");
    transaction.objectStore(PIECES).delete(IDBKeyRange.bound([key, 0], [key, Number.MAX_SAFE_INTEGER]));
    transaction.objectStore(TRACKS).delete(key);
    await committed(transaction);
  }

  async size(key: string): Promise<number> {
    return (
      (
        await done(
          this.db.transaction(TRACKS).objectStore(TRACKS).get(key) as IDBRequest<StoredTrack | undefined>,
        )
      )?.sizeBytes ?? 0
    );
  }

  async getManifest(key: string): Promise<Manifest | undefined> {
    return (
      await done(
        this.db.transaction(TRACKS).objectStore(TRACKS).get(key) as IDBRequest<StoredTrack | undefined>,
      )
    )?.manifest;
  }

  async putManifest(key: string, manifest: Manifest): Promise<void> {
    const transaction = this.db.transaction(TRACKS, "readwrite");
    const store = transaction.objectStore(TRACKS);
    const track = (await done(store.get(key) as IDBRequest<StoredTrack | undefined>)) ?? {
      key,
      sizeBytes: 0,
      lastUsed: Date.now(),
      pinned: false,
    };
    store.put({ ...track, manifest });
    await committed(transaction);
  }

  /** Every cached track, for rebuilding the LRU index after a reload. */
  async tracks(): Promise<StoredTrack[]> {
    return done(this.db.transaction(TRACKS).objectStore(TRACKS).getAll() as IDBRequest<StoredTrack[]>);
  }

  async setPinned(key: string, pinned: boolean): Promise<void> {
    const transaction = this.db.transaction(TRACKS, "readwrite");
    const store = transaction.objectStore(TRACKS);
    const track = await done(store.get(key) as IDBRequest<StoredTrack | undefined>);
    if (track) store.put({ ...track, pinned });
    await committed(transaction);
  }
}
