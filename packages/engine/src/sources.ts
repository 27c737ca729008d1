// Where pieces come from: a local piece store (the client cache), the server over HTTP, and (later) peers.
import { manifestEtag, streamManifest, streamPaths } from "@soundmesh/protocol";
import type { SourceKind } from "./byte-accounting";
import type { Manifest } from "./timeline";

export interface TrackRef {
  trackId: string;
  profile: string;
  manifest: Manifest;
}

export const trackKey = (track: Pick<TrackRef, "trackId" | "profile">): string =>
  `${track.trackId}.${track.profile}`;

/** Which piece 0 an early answer holds: a rendition's own, or an offset rendition's (`fromMs`). */
const earlyKey = (trackId: string, profile: string, fromMs: number | undefined): string =>
  fromMs === undefined ? trackKey({ trackId, profile }) : `${trackKey({ trackId, profile })}@${fromMs}`;

export interface FetchOptions {
  /** How long until playback needs the piece; peers use it to order their uploads. */
  urgencyMs: number;
  signal: AbortSignal;
}

export interface PieceSource {
  readonly kind: Exclude<SourceKind, "cache">;
  readonly id: string;
  fetch(track: TrackRef, index: number, options: FetchOptions): Promise<Uint8Array>;
}

/**
 * How a first manifest is asked for: `growing` accepts one the server is still making; `fromMs` asks for the offset
 * rendition that starts there (a seek past what the transcode has reached), which is never kept nor shared.
 */
export interface ManifestOptions {
  growing?: boolean;
  fromMs?: number;
}

/** An offset rendition: the track from `fromMs` on, with pieces of its own, fetched from the server only. */
export const isOffset = (manifest: Manifest): boolean => manifest.fromMs !== undefined;

/** Where the player gets manifests: the first one, and (for a growing one) what comes next. */
export interface ManifestSource {
  manifest(
    trackId: string,
    profile: string,
    signal?: AbortSignal,
    options?: ManifestOptions,
  ): Promise<Manifest>;
  grow?(held: Manifest, signal?: AbortSignal): Promise<Manifest>;
}

/** Whether a manifest is final; one stored before the field existed was. */
export const isComplete = (manifest: Manifest): boolean => manifest.complete !== false;

/** `next` if it keeps every piece and hash `held` announced (a later state of the same rendition), else an error. */
export function extendsManifest(held: Manifest, next: Manifest): Manifest {
  const same =
    next.trackId === held.trackId &&
    next.profile === held.profile &&
    next.fromMs === held.fromMs &&
    next.pieceSizeBytes === held.pieceSizeBytes &&
    next.pieceCount >= held.pieceCount &&
    held.pieceHashes.every((hash, index) => next.pieceHashes[index] === hash);
  if (!same) throw new SourceError(`${held.trackId}: the rendition changed while it was being made`, 409);
  return next;
}

/** `promise`, or its signal's reason as soon as the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted)
    return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export class SourceError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** The server's reason, when it gave one. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = "SourceError";
  }
}

export interface ServerSourceOptions {
  baseUrl: string;
  /** e.g. { authorization: "Bearer …" } in Node; browsers send the session cookie by themselves. */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/** The server's HTTP streaming endpoints: manifests and pieces addressed by track id and profile. */
export class ServerSource implements PieceSource {
  readonly kind = "server" as const;
  readonly id = "server";
  private readonly fetchFn: typeof fetch;
  /**
   * Piece 0 asked for together with a manifest (one round trip instead of two before the first append), by
   * rendition; taken by the first fetch of it, and checked against the manifest's hash like any piece.
   */
  private readonly early = new Map<string, Promise<Uint8Array>>();

  constructor(private readonly options: ServerSourceOptions) {
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  }

  private async get(
    path: string,
    signal?: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const response = await this.fetchFn(`${this.options.baseUrl}${path}`, {
      headers: { ...this.options.headers, ...headers },
      credentials: "same-origin",
      ...(signal ? { signal } : {}),
    });
    if (!response.ok && response.status !== 304) {
      // A problem+json answer names the reason (the error code's message): the player shows it.
      const title = await response
        .json()
        .then((body: { title?: unknown }) => (typeof body.title === "string" ? body.title.slice(0, 200) : ""))
        .catch(() => "");
      const reason = title ? `${title} (HTTP ${response.status})` : `HTTP ${response.status}`;
      throw new SourceError(`${path}: ${reason}`, response.status, title || undefined);
    }
    return response;
  }

  /**
   * The complete manifest (the server waits for a transcode to end); with `growing`, the first manifest that has a
   * piece, which may still be growing (see `grow`).
   */
  async manifest(
    trackId: string,
    profile: string,
    signal?: AbortSignal,
    options: ManifestOptions = {},
  ): Promise<Manifest> {
    const path = streamPaths.manifest(trackId, profile, {
      ...(options.growing ? { havePieces: 0 } : {}),
      fromMs: options.fromMs,
    });
    const answer = this.get(path, signal);
    // An offset rendition starts at the seek's target: its piece 0 is the one the seek plays first.
    this.askEarly(earlyKey(trackId, profile, options.fromMs), trackId, profile, options.fromMs, signal);
    const response = await answer;
    return streamManifest.parse(await response.json());
  }

  /**
   * Long-polls a growing manifest: the server answers once it has more pieces than `held`, or is complete, or after
   * its bound unchanged. Refused unless every hash already announced is unchanged (a hash is final once announced).
   */
  async grow(held: Manifest, signal?: AbortSignal): Promise<Manifest> {
    const path = streamPaths.manifest(held.trackId, held.profile, {
      havePieces: held.pieceCount,
      fromMs: held.fromMs,
    });
    const next = streamManifest.parse(await (await this.get(path, signal)).json());
    return extendsManifest(held, next);
  }

  /**
   * Asks whether a held manifest is still the server's (If-None-Match): the held one on 304, else the server's.
   * Either way the server now counts the rendition as fetched by this session, so its peers may announce it.
   */
  async revalidate(held: Manifest, signal?: AbortSignal): Promise<Manifest> {
    const response = await this.get(streamPaths.manifest(held.trackId, held.profile), signal, {
      "if-none-match": manifestEtag(held),
    });
    if (response.status === 304) return held;
    return streamManifest.parse(await response.json());
  }

  private askEarly(
    key: string,
    trackId: string,
    profile: string,
    fromMs: number | undefined,
    signal: AbortSignal | undefined,
  ): void {
    if (this.early.has(key)) return;
    const bytes = this.get(streamPaths.piece(trackId, profile, 0, fromMs), signal)
      .then((response) => response.arrayBuffer())
      .then((buffer) => new Uint8Array(buffer));
    bytes.catch(() => undefined);
    this.early.set(key, bytes);
    // One not taken (the track was skipped, or peers had it) is forgotten after a few more.
    for (const old of this.early.keys()) if (this.early.size > 8) this.early.delete(old);
  }

  async fetch(track: TrackRef, index: number, options: FetchOptions): Promise<Uint8Array> {
    const key = earlyKey(track.trackId, track.profile, track.manifest.fromMs);
    const early = index === 0 ? this.early.get(key) : undefined;
    if (early) {
      this.early.delete(key);
      try {
        return await abortable(early, options.signal);
      } catch (error) {
        if (options.signal.aborted) throw error;
        // Asked again below.
      }
    }
    const response = await this.get(
      streamPaths.piece(track.trackId, track.profile, index, track.manifest.fromMs),
      options.signal,
    );
    return new Uint8Array(await response.arrayBuffer());
  }
}

/** Verified pieces kept on the client (IndexedDB in browsers, memory in Node and tests). */
export interface PieceStore {
  get(key: string, index: number): Promise<Uint8Array | undefined>;
  put(key: string, index: number, bytes: Uint8Array): Promise<void>;
  /** Drops every piece of a track (eviction). */
  delete(key: string): Promise<void>;
  /** Bytes held for a track. */
  size(key: string): Promise<number>;
  /** The track's manifest, kept with its pieces so a cached track needs no request at all. */
  getManifest(key: string): Promise<Manifest | undefined>;
  putManifest(key: string, manifest: Manifest): Promise<void>;
}

/**
 * Manifests from the store when held complete, else from the server (and then kept). A growing manifest is kept
 * marked as such (`complete: false`): a later play asks the server again, for the final one.
 */
export class CachedManifests implements ManifestSource {
  constructor(
    private readonly server: Pick<ServerSource, "manifest" | "revalidate"> &
      Partial<Pick<ServerSource, "grow">>,
    private readonly store: PieceStore,
  ) {}

  /** Whether the manifest held for a rendition is still the server's (a held track from an earlier session). */
  async isCurrent(trackId: string, profile: string, signal?: AbortSignal): Promise<boolean> {
    const held = await this.store.getManifest(trackKey({ trackId, profile }));
    if (!held) return false;
    return (await this.server.revalidate(held, signal)) === held;
  }

  async manifest(
    trackId: string,
    profile: string,
    signal?: AbortSignal,
    options: ManifestOptions = {},
  ): Promise<Manifest> {
    // An offset rendition is asked for once, for one seek: never kept.
    if (options.fromMs !== undefined) return this.server.manifest(trackId, profile, signal, options);
    const key = trackKey({ trackId, profile });
    const held = await this.store.getManifest(key);
    if (held && isComplete(held)) return held;
    const manifest = await this.server.manifest(trackId, profile, signal, options);
    await this.store.putManifest(key, manifest);
    return manifest;
  }

  /** The next state of a growing manifest from the server, kept (final once complete). */
  async grow(held: Manifest, signal?: AbortSignal): Promise<Manifest> {
    if (!this.server.grow) throw new SourceError("this source cannot follow a growing manifest");
    const next = await this.server.grow(held, signal);
    if (next !== held && !isOffset(next)) await this.store.putManifest(trackKey(held), next);
    return next;
  }
}

export class MemoryPieceStore implements PieceStore {
  private readonly tracks = new Map<string, Map<number, Uint8Array>>();
  private readonly manifests = new Map<string, Manifest>();

  getManifest(key: string): Promise<Manifest | undefined> {
    return Promise.resolve(this.manifests.get(key));
  }

  putManifest(key: string, manifest: Manifest): Promise<void> {
    this.manifests.set(key, manifest);
    return Promise.resolve();
  }

  get(key: string, index: number): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.tracks.get(key)?.get(index));
  }

  put(key: string, index: number, bytes: Uint8Array): Promise<void> {
    const pieces = this.tracks.get(key) ?? new Map<number, Uint8Array>();
    pieces.set(index, bytes);
    this.tracks.set(key, pieces);
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.tracks.delete(key);
    this.manifests.delete(key);
    return Promise.resolve();
  }

  size(key: string): Promise<number> {
    let total = 0;
    for (const bytes of this.tracks.get(key)?.values() ?? []) total += bytes.byteLength;
    return Promise.resolve(total);
  }
}
