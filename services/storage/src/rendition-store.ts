// The rendition cache: transcodes once per rendition (shared by concurrent callers, run when the scheduler says),
// pieces with SHA-256s announced as ffmpeg finishes them (a manifest that grows), LRU on disk once complete. A seek
// past what a transcode has reached gets an offset rendition (the track from there on), held in memory only.
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { AppError, toAppError, type StreamManifest } from "@soundmesh/protocol";
import {
  WarmTranscoders,
  assertFfmpeg,
  durationFromStats,
  startTranscode,
  type TranscodeProfile,
} from "./ffmpeg";
import { GrowingRendition } from "./growing-rendition";
import { TranscodeScheduler, defaultSchedulerConfig, type Hold, type Requester } from "./transcode-scheduler";
import {
  ORIGINAL,
  OpenFiles,
  PieceCache,
  handoffProblem,
  originalManifest,
  persistRendition,
} from "./rendition-files";

export interface SourceInfo {
  path: string;
  sizeBytes: number;
  mtimeMs: number;
  durationMs?: number;
}
export type ResolveSource = (trackId: string) => Promise<SourceInfo>;

export interface RenditionStoreConfig {
  cacheDir: string;
  capBytes: number;
  pieceSizeBytes: number;
  ffmpegPath: string;
  profiles: Record<string, TranscodeProfile>;
  /** How long a caller waits for a transcode to reach what it needs. */
  waitTimeoutMs: number;
  /** How long a long-poll on a growing manifest waits for more pieces before answering unchanged. */
  longPollMs?: number;
  /** Pieces of complete renditions kept in memory once served (0 turns it off). */
  pieceCacheBytes?: number;
  /**
   * Keep one ffmpeg per profile started and waiting for its input (from `load`), so a listener's first transcode
   * skips ffmpeg's start-up; off unless set (the storage service turns it on).
   */
  warmFfmpeg?: boolean;
}

/**
 * Asks the nodes that held a rendition before a ring change for it whole (cluster mode): undefined when none has it.
 * The store checks what comes back against its piece hashes before taking it.
 */
export type FetchHandoff = (
  trackId: string,
  profile: string,
) => Promise<{ manifest: StreamManifest; bytes: Uint8Array } | undefined>;

/** A rendition this node now holds complete and cached, made here or taken from another node. */
export interface ReadyRendition {
  trackId: string;
  profile: string;
  sizeBytes: number;
  /** How it came: a transcode here, or a handoff from a node that held it before a ring change. */
  by: "transcode" | "handoff";
}

export const DEFAULT_LONG_POLL_MS = 10_000;
export const DEFAULT_PIECE_CACHE_BYTES = 64 * 1024 * 1024;
/** Offset renditions kept in memory once made (a listener may seek around in one for a while). */
const OFFSET_RENDITIONS_KEPT = 8;

export const defaultProfiles: Record<string, TranscodeProfile> = {
  opus96: { codec: "opus", bitrateKbps: 96 },
  opus160: { codec: "opus", bitrateKbps: 160 },
};

interface Rendition {
  key: string;
  dataPath: string;
  state: "writing" | "complete";
  /** While a transcode writes: its bytes and the pieces finished so far (served to early readers); dropped once on disk. */
  growing?: GrowingRendition | undefined;
  bytesWritten: number;
  manifest?: StreamManifest;
  /** Recency by a counter, not the clock: two uses within one millisecond still have an order. */
  lastUsed: number;
  readers: number;
  /** Cached on disk (transcodes) or read from the library (originals, which take no cache space). */
  cached: boolean;
  /** An offset rendition's start: it lives in memory (its `growing`) and is never cached. */
  fromMs?: number | undefined;
  done: Promise<void>;
  progressed: Set<() => void>;
}

/** Who asks when a caller names no one: tests and tools calling the store directly. */
const LOCAL: Requester = { userId: "local" };
const noHold: Hold = { release: () => undefined, mayAnswerEarly: () => () => false };

export class RenditionStore {
  private readonly renditions = new Map<string, Rendition>();
  private readonly files = new OpenFiles();
  private readonly hot: PieceCache;
  private readonly warm: WarmTranscoders | undefined;
  private transcodesStarted = 0;
  /** Renditions being asked of other nodes, by key: concurrent callers wait for one handoff. */
  private readonly adopting = new Map<string, Promise<Rendition | undefined>>();
  private handoffs = 0;
  private handoffBytes = 0;
  private replicasTaken = 0;
  private replicaBytes = 0;
  /**
   * Cluster mode: told of each rendition made here or taken by handoff once it is on disk (the storage service pushes
   * a copy to its replicas); not of copies taken as a replica.
   */
  onReady: ((rendition: ReadyRendition) => void) | undefined = undefined;
  private evictions = 0;
  private uses = 0;
  private readonly keys = new Map<string, string>();
  private readonly profileTexts = new Map<string, string>();

  constructor(
    private readonly config: RenditionStoreConfig,
    private readonly resolveSource: ResolveSource,
    private readonly logger: Logger,
    /** The one place that decides which ffmpeg runs; by default N = the machine's parallelism. */
    readonly scheduler = new TranscodeScheduler(defaultSchedulerConfig(availableParallelism())),
    /** Cluster mode: a rendition this node lacks is first asked of its previous owners, then transcoded. */
    private readonly fetchHandoff?: FetchHandoff,
  ) {
    this.hot = new PieceCache(config.pieceCacheBytes ?? DEFAULT_PIECE_CACHE_BYTES);
    this.warm = config.warmFfmpeg
      ? new WarmTranscoders(config.ffmpegPath, config.profiles, config.pieceSizeBytes)
      : undefined;
  }

  /** Rebuilds the index from disk; a rendition without its manifest was cut short by a crash and is removed. */
  async load(): Promise<void> {
    await mkdir(this.config.cacheDir, { recursive: true });
    for (const entry of await readdir(this.config.cacheDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.config.cacheDir, entry.name);
      const manifestPath = join(dir, "manifest.json");
      try {
        const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as StreamManifest;
        const { mtimeMs } = await stat(manifestPath);
        if (!existsSync(join(dir, "data"))) throw new Error("no data");
        // A write cut short by a crash leaves its uniquely named temporary file behind.
        for (const name of await readdir(dir))
          if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
        this.renditions.set(entry.name, {
          key: entry.name,
          dataPath: join(dir, "data"),
          state: "complete",
          bytesWritten: manifest.sizeBytes,
          manifest,
          lastUsed: mtimeMs,
          readers: 0,
          cached: true,
          done: Promise.resolve(),
          progressed: new Set(),
        });
      } catch {
        await rm(dir, { recursive: true, force: true });
      }
    }
    // Loaded renditions keep their order of last use (manifest mtime), below every use from now on.
    const loaded = [...this.renditions.values()].sort((a, b) => a.lastUsed - b.lastUsed);
    for (const rendition of loaded) rendition.lastUsed = ++this.uses;
    await this.evict();
    this.warm?.fill();
  }

  /** Closes the files kept open for reading and ends the ffmpeg processes waiting for work. */
  close(): void {
    this.files.closeAll();
    this.warm?.close();
  }

  stats() {
    const cached = [...this.renditions.values()].filter((r) => r.cached && r.state === "complete");
    const scheduler = this.scheduler.stats();
    return {
      renditions: cached.length,
      cachedBytes: cached.reduce((sum, r) => sum + r.bytesWritten, 0),
      capBytes: this.config.capBytes,
      transcodesStarted: this.transcodesStarted,
      /** Transcodes that took an ffmpeg started ahead of time. */
      transcodesWarm: this.warm?.takenCount ?? 0,
      transcodesRunning: scheduler.running + scheduler.paused,
      handoffs: this.handoffs,
      handoffBytes: this.handoffBytes,
      replicasTaken: this.replicasTaken,
      replicaBytes: this.replicaBytes,
      evictions: this.evictions,
      scheduler,
    };
  }

  /**
   * Without `havePieces`, the complete manifest (waiting, bounded, for a transcode to end). With it, a long-poll:
   * the manifest as soon as it has more than `havePieces` pieces or is complete, else after the long-poll bound as
   * it is. While a transcode runs, that manifest is growing: the pieces finished so far, each with its final hash.
   */
  async manifest(
    trackId: string,
    profile: string,
    requester: Requester = LOCAL,
    havePieces?: number,
    fromMs?: number,
  ): Promise<StreamManifest> {
    return this.use(trackId, profile, requester, fromMs, async (rendition, hold) => {
      if (havePieces === undefined) return this.complete(rendition);
      const now = () => rendition.manifest ?? rendition.growing?.manifest();
      const known = () => (rendition.state === "complete" ? Infinity : (rendition.growing?.pieceCount ?? 0));
      if (known() <= havePieces) {
        let undo = () => false;
        const bound = new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.config.longPollMs ?? DEFAULT_LONG_POLL_MS);
          void rendition.done.finally(() => clearTimeout(timer)).catch(() => undefined);
          // The same user clicked another track: answered now, unchanged (a client still following asks again).
          undo = hold.mayAnswerEarly(() => (clearTimeout(timer), resolve()));
        });
        try {
          await Promise.race([this.waitFor(rendition, () => known() > havePieces), bound]);
        } finally {
          undo();
        }
      }
      rendition.lastUsed = ++this.uses;
      const manifest = now();
      if (manifest) return manifest;
      // An original is described at once; only a failed one has nothing, and waitFor threw its error above.
      return this.complete(rendition);
    });
  }

  /** Makes the rendition for transcode-ahead: waits as long as it takes, since listeners go first. */
  async prepare(trackId: string, profile: string): Promise<void> {
    await this.use(trackId, profile, "background", undefined, (rendition) => rendition.done);
  }

  /** A piece as soon as its bytes exist; `complete` says whether the whole rendition is done. */
  async piece(
    trackId: string,
    profile: string,
    index: number,
    requester: Requester = LOCAL,
    fromMs?: number,
  ): Promise<{ bytes: Uint8Array; complete: boolean }> {
    return this.use(trackId, profile, requester, fromMs, async (rendition) => {
      const size = this.config.pieceSizeBytes;
      const start = index * size;
      // A piece is servable once finished: its hash is announced at the same moment.
      const finished = () =>
        rendition.state === "complete" ||
        rendition.bytesWritten >= start + size ||
        rendition.growing?.isFinished === true;
      await this.waitFor(rendition, finished);
      const complete = rendition.state === "complete";
      const total = complete ? rendition.manifest!.sizeBytes : rendition.bytesWritten;
      if (start >= total) throw new AppError("NOT_FOUND", `No piece ${index} in this rendition`);
      // Only a complete rendition's pieces from the disk are worth keeping: a growing one's are in memory already.
      const keep = complete && !rendition.growing;
      const held = keep ? this.hot.get(rendition.key, index) : undefined;
      if (held) {
        rendition.lastUsed = ++this.uses;
        return { bytes: held, complete };
      }
      const bytes = await this.read(rendition, start, Math.min(total, start + size) - 1);
      if (keep && this.renditions.get(rendition.key) === rendition) this.hot.set(rendition.key, index, bytes);
      return { bytes, complete };
    });
  }

  async range(
    trackId: string,
    profile: string,
    start: number,
    endInclusive: number,
    requester: Requester = LOCAL,
  ): Promise<Uint8Array> {
    return this.use(trackId, profile, requester, undefined, async (rendition) => {
      const manifest = await this.complete(rendition);
      if (start > endInclusive || start >= manifest.sizeBytes || endInclusive - start >= 1024 * 1024) {
        throw new AppError(
          "RANGE_NOT_SATISFIABLE",
          `A range is within 0-${manifest.sizeBytes - 1} and at most 1 MiB`,
        );
      }
      return this.read(rendition, start, Math.min(endInclusive, manifest.sizeBytes - 1));
    });
  }

  /**
   * A complete cached rendition's manifest and up to `maxBytes` of its bytes from `start`, for a node that now owns
   * it; never starts a transcode (`NOT_FOUND` when this node does not hold it complete).
   */
  async held(
    trackId: string,
    profile: string,
    start: number,
    maxBytes: number,
  ): Promise<{ manifest: StreamManifest; bytes: Uint8Array }> {
    const source = await this.resolveSource(trackId);
    const rendition = this.renditions.get(this.keyOf(trackId, profile, source));
    if (!rendition?.cached || rendition.state !== "complete" || !rendition.manifest)
      throw new AppError("NOT_FOUND", "This node does not hold the rendition complete");
    const { manifest } = rendition;
    if (start >= manifest.sizeBytes)
      throw new AppError("RANGE_NOT_SATISFIABLE", `The rendition ends at byte ${manifest.sizeBytes - 1}`);
    const bytes = await this.read(rendition, start, Math.min(manifest.sizeBytes, start + maxBytes) - 1);
    return { manifest, bytes };
  }

  /** Complete cached renditions (no offsets, no originals), most recently used first: what a leaving node hands over. */
  heldRenditions(): Array<{ trackId: string; profile: string; sizeBytes: number }> {
    return [...this.renditions.values()]
      .filter((r) => r.cached && r.state === "complete" && r.fromMs === undefined)
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .flatMap(({ manifest }) =>
        manifest
          ? [{ trackId: manifest.trackId, profile: manifest.profile, sizeBytes: manifest.sizeBytes }]
          : [],
      );
  }

  /**
   * Cluster mode, on a replica: a copy of a rendition its owner holds, taken whole with `fetch` (every piece's hash
   * checked, then cached) unless this node holds it or is making it already. Never transcodes; a copy that cannot be
   * fetched or fails its checks is an error (the owner tries again later).
   */
  async takeReplica(
    trackId: string,
    profile: string,
    fetch: () => ReturnType<FetchHandoff>,
  ): Promise<{ status: "have" | "taken"; bytes: number }> {
    if (!Object.hasOwn(this.config.profiles, profile))
      throw new AppError("NOT_FOUND", `No profile ${profile}`);
    const key = this.keyOf(trackId, profile, await this.resolveSource(trackId));
    const have = { status: "have", bytes: 0 } as const;
    if (this.renditions.has(key)) return have;
    // A reader's handoff of the same rendition may be under way: the copy is one or the other.
    const taken = await this.adopt(key, async () => {
      const copy = await fetch();
      if (!copy) throw new AppError("NOT_FOUND", "The owner no longer holds the rendition");
      return this.keep(key, trackId, profile, copy, "replica");
    });
    if (taken) return { status: "taken", bytes: taken.bytesWritten };
    if (this.renditions.has(key)) return have;
    throw new AppError("UNAVAILABLE", "The rendition was neither taken nor made here");
  }

  /** Runs `work` on the rendition while holding the requester's claim on its transcode. */
  private async use<T>(
    trackId: string,
    profile: string,
    requester: Requester,
    fromMs: number | undefined,
    work: (rendition: Rendition, hold: Hold) => Promise<T>,
  ): Promise<T> {
    const { rendition, hold } = await this.ensure(trackId, profile, requester, fromMs);
    try {
      return await work(rendition, hold);
    } finally {
      hold.release();
    }
  }

  private async complete(rendition: Rendition): Promise<StreamManifest> {
    await this.within(rendition.done, "the rendition");
    rendition.lastUsed = ++this.uses;
    return rendition.manifest!;
  }

  /** Finds or starts the rendition; concurrent callers share one transcode, which the scheduler runs in turn. */
  private async ensure(
    trackId: string,
    profile: string,
    requester: Requester,
    fromMs?: number,
  ): Promise<{ rendition: Rendition; hold: Hold }> {
    if (profile !== ORIGINAL && !Object.hasOwn(this.config.profiles, profile)) {
      throw new AppError("NOT_FOUND", `No profile ${profile}`);
    }
    if (fromMs !== undefined && profile === ORIGINAL)
      throw new AppError(
        "VALIDATION_FAILED",
        "An original is whole from the start: seek in it by its pieces",
      );
    const source = await this.resolveSource(trackId);
    if (fromMs !== undefined && source.durationMs !== undefined && fromMs >= source.durationMs)
      throw new AppError("VALIDATION_FAILED", `The track ends at ${source.durationMs} ms`);
    const key = this.keyOf(trackId, profile, source, fromMs);
    const existing = this.found(key, requester);
    if (existing) return existing;
    if (this.fetchHandoff && profile !== ORIGINAL && fromMs === undefined) {
      // A replica's copy of it under way may fail (the reader then transcodes); a handoff never throws.
      const adopted = await this.adopt(key, () => this.takeHandoff(key, trackId, profile)).catch(
        (error: unknown) => {
          this.logger.info({ err: error, trackId, profile }, "a copy under way failed: transcoding instead");
          return undefined;
        },
      );
      // Another caller may have started a transcode while the other nodes were asked.
      const now = this.found(key, requester);
      if (now) return now;
      if (adopted) return { rendition: adopted, hold: noHold };
    }
    if (fromMs !== undefined) this.trimOffsets();
    const started =
      profile === ORIGINAL
        ? { rendition: this.describeOriginal(key, trackId, source), hold: noHold }
        : this.transcode(key, trackId, profile, this.config.profiles[profile]!, source, requester, fromMs);
    this.renditions.set(key, started.rendition);
    started.rendition.done.catch(() => {
      if (this.renditions.get(key) === started.rendition) this.renditions.delete(key);
    });
    return started;
  }

  /**
   * The cache key: the start of the SHA-256 of the track's source as it is now, the profile's settings and the piece
   * size; hashed once per rendition, not per piece.
   */
  private keyOf(trackId: string, profile: string, source: SourceInfo, fromMs?: number): string {
    const identity = `${trackId}|${profile}|${source.sizeBytes}|${source.mtimeMs}|${this.config.pieceSizeBytes}|${this.profileText(profile)}${fromMs === undefined ? "" : `|from ${fromMs}`}`;
    let key = this.keys.get(identity);
    if (key === undefined) {
      key = createHash("sha256").update(identity).digest("hex").slice(0, 32);
      if (this.keys.size >= 10_000) this.keys.clear();
      this.keys.set(identity, key);
    }
    return key;
  }

  private profileText(profile: string): string {
    let text = this.profileTexts.get(profile);
    if (text === undefined) {
      text = JSON.stringify(this.config.profiles[profile] ?? {});
      this.profileTexts.set(profile, text);
    }
    return text;
  }

  private found(key: string, requester: Requester): { rendition: Rendition; hold: Hold } | undefined {
    const existing = this.renditions.get(key);
    if (!existing) return undefined;
    const hold =
      existing.growing && existing.state === "writing" ? this.scheduler.join(key, requester) : noHold;
    return { rendition: existing, hold };
  }

  /** A rendition asked of other nodes, checked and cached; one ask per key at once (readers and a replica copy). */
  private adopt(key: string, take: () => Promise<Rendition | undefined>): Promise<Rendition | undefined> {
    let pending = this.adopting.get(key);
    if (!pending) {
      pending = take().finally(() => this.adopting.delete(key));
      this.adopting.set(key, pending);
    }
    return pending;
  }

  /** The rendition from the nodes that held it before a ring change; undefined (transcode instead) when none can. */
  private async takeHandoff(key: string, trackId: string, profile: string): Promise<Rendition | undefined> {
    let handed: Awaited<ReturnType<FetchHandoff>>;
    try {
      handed = await this.fetchHandoff!(trackId, profile);
    } catch (error) {
      this.logger.warn({ err: error, trackId, profile }, "handoff failed: transcoding instead");
      return undefined;
    }
    if (!handed) return undefined;
    try {
      return await this.keep(key, trackId, profile, handed, "handoff");
    } catch (error) {
      this.logger.warn(
        { trackId, profile, problem: toAppError(error).message },
        "handed-off rendition refused: transcoding instead",
      );
      return undefined;
    }
  }

  /** A whole rendition from another node, checked against its manifest's piece hashes and cached; throws if refused. */
  private async keep(
    key: string,
    trackId: string,
    profile: string,
    { manifest, bytes }: { manifest: StreamManifest; bytes: Uint8Array },
    by: "handoff" | "replica",
  ): Promise<Rendition> {
    const problem = handoffProblem(manifest, bytes, {
      trackId,
      profile,
      pieceSizeBytes: this.config.pieceSizeBytes,
    });
    if (problem) throw new AppError("INTERNAL", problem);
    await persistRendition(join(this.config.cacheDir, key), bytes, manifest);
    const rendition: Rendition = {
      key,
      dataPath: join(this.config.cacheDir, key, "data"),
      state: "complete",
      bytesWritten: manifest.sizeBytes,
      manifest,
      lastUsed: ++this.uses,
      readers: 0,
      cached: true,
      done: Promise.resolve(),
      progressed: new Set(),
    };
    this.renditions.set(key, rendition);
    const { sizeBytes } = manifest;
    if (by === "handoff") {
      this.handoffs += 1;
      this.handoffBytes += sizeBytes;
      this.logger.info({ trackId, profile, sizeBytes }, "rendition taken by handoff");
      this.onReady?.({ trackId, profile, sizeBytes, by });
    } else {
      this.replicasTaken += 1;
      this.replicaBytes += sizeBytes;
      this.logger.info({ trackId, profile, sizeBytes }, "rendition copy taken as a replica");
    }
    await this.evict();
    return rendition;
  }

  private describeOriginal(key: string, trackId: string, source: SourceInfo): Rendition {
    const rendition: Rendition = {
      key,
      dataPath: source.path,
      state: "writing",
      bytesWritten: 0,
      lastUsed: ++this.uses,
      readers: 0,
      cached: false,
      done: Promise.resolve(),
      progressed: new Set(),
    };
    rendition.done = (async () => {
      rendition.manifest = await originalManifest(trackId, source, this.config.pieceSizeBytes);
      rendition.bytesWritten = rendition.manifest.sizeBytes;
      rendition.state = "complete";
      this.notify(rendition);
    })();
    return rendition;
  }

  /** Queues the transcode with the scheduler (which may refuse it); ffmpeg starts when it gives the slot. */
  private transcode(
    key: string,
    trackId: string,
    profile: string,
    settings: TranscodeProfile,
    source: SourceInfo,
    requester: Requester,
    fromMs?: number,
  ): { rendition: Rendition; hold: Hold } {
    assertFfmpeg(this.config.ffmpegPath);
    const mediaMs = (source.durationMs ?? 0) - (fromMs ?? 0);
    const rendition: Rendition = {
      key,
      dataPath: join(this.config.cacheDir, key, "data"),
      state: "writing",
      growing: new GrowingRendition(
        {
          trackId,
          profile,
          mimeType: 'audio/webm; codecs="opus"',
          codec: "opus",
          bitrateKbps: settings.bitrateKbps,
          catalogDurationMs: source.durationMs ?? 0,
          pieceSizeBytes: this.config.pieceSizeBytes,
          fromMs,
        },
        (Math.max(0, mediaMs) * settings.bitrateKbps) / 8,
      ),
      bytesWritten: 0,
      lastUsed: ++this.uses,
      readers: 0,
      cached: fromMs === undefined,
      fromMs,
      done: Promise.resolve(),
      progressed: new Set(),
    };
    let settle!: { resolve: () => void; reject: (error: AppError) => void };
    rendition.done = new Promise<void>((resolve, reject) => {
      // The first outcome wins: a cancelled job's ffmpeg may still report its exit afterwards.
      let settled = false;
      const once =
        <A extends unknown[]>(f: (...args: A) => void) =>
        (...args: A) => {
          if (settled) return;
          settled = true;
          f(...args);
        };
      settle = {
        resolve: once(resolve),
        // Forgotten at once, so a request arriving now starts afresh rather than joining a failed transcode.
        reject: once((error: AppError) => {
          if (this.renditions.get(key) === rendition) this.renditions.delete(key);
          reject(error);
        }),
      };
    });
    const hold = this.scheduler.submit(key, requester, {
      spawn: () =>
        this.runFfmpeg(rendition, trackId, profile, settings, source, settle, requester !== "background"),
      cancel: (error) => settle.reject(error),
      // Nobody else would play the track from this exact second: once its listener is gone, it is not worth a slot.
      disposable: fromMs !== undefined,
      group: trackId,
    });
    rendition.done.catch(() => this.notify(rendition));
    return { rendition, hold };
  }

  private runFfmpeg(
    rendition: Rendition,
    trackId: string,
    profile: string,
    settings: TranscodeProfile,
    source: SourceInfo,
    settle: { resolve: () => void; reject: (error: AppError) => void },
    /** A listener waits: take an ffmpeg started ahead of time (transcode-ahead leaves those to listeners). */
    listener: boolean,
  ): ChildProcess {
    this.transcodesStarted += 1;
    this.logger.info({ trackId, profile, fromMs: rendition.fromMs }, "transcode started");
    const child =
      this.warm && listener
        ? this.warm.start(profile, source.path, rendition.fromMs)
        : startTranscode(this.config.ffmpegPath, source.path, settings, rendition.fromMs);
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8_000);
    });
    const growing = rendition.growing!;
    child.stdout.on("data", (chunk: Buffer) => {
      growing.append(chunk);
      rendition.bytesWritten = growing.bytesWritten;
      this.notify(rendition);
    });
    child.once("error", (error) =>
      settle.reject(new AppError("DEPENDENCY_MISSING", "ffmpeg could not be started", { cause: error })),
    );
    child.once("close", (code) => {
      // Stopped by the scheduler (nobody waits for it): its waiters were told already.
      if (this.renditions.get(rendition.key) !== rendition) return;
      if (code !== 0 || rendition.bytesWritten === 0) {
        this.logger.warn({ trackId, profile, code, stderr: stderr.slice(-500) }, "transcode failed");
        settle.reject(new AppError("UNPLAYABLE", "The track cannot be decoded"));
        return;
      }
      // The last piece is announced now; the complete manifest is only published once it is on disk.
      const offset = rendition.fromMs !== undefined;
      // An offset rendition read by a waiting ffmpeg keeps track time (`-copyts`), where ffmpeg's `time=` counts from
      // its first progress line rather than from the first packet: its duration is the catalog's whenever known.
      growing.finish(
        offset
          ? source.durationMs
            ? undefined
            : durationFromStats(stderr)
          : (durationFromStats(stderr) ?? source.durationMs ?? 0),
      );
      const bytes = growing.bytes();
      const manifest = growing.manifest();
      if (offset) {
        // Served from memory for as long as it is kept; never written to the cache.
        rendition.manifest = manifest;
        rendition.state = "complete";
        this.notify(rendition);
        settle.resolve();
        return;
      }
      persistRendition(join(this.config.cacheDir, rendition.key), bytes, manifest).then(
        async () => {
          rendition.manifest = manifest;
          rendition.state = "complete";
          rendition.growing = undefined;
          this.notify(rendition);
          this.onReady?.({ trackId, profile, sizeBytes: manifest.sizeBytes, by: "transcode" });
          await this.evict().catch((error: unknown) =>
            this.logger.warn({ err: error }, "the rendition cache could not be trimmed"),
          );
          settle.resolve();
        },
        (error: unknown) =>
          settle.reject(new AppError("INTERNAL", "The rendition could not be written", { cause: error })),
      );
    });
    return child;
  }

  /** Offset renditions beyond the few kept are dropped, least recently used first, unless being read or made. */
  private trimOffsets(): void {
    const offsets = [...this.renditions.values()]
      .filter((r) => r.fromMs !== undefined && r.state === "complete" && r.readers === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const rendition of offsets.slice(0, Math.max(0, offsets.length - OFFSET_RENDITIONS_KEPT + 1)))
      this.renditions.delete(rendition.key);
  }

  private async read(rendition: Rendition, start: number, endInclusive: number): Promise<Uint8Array> {
    rendition.readers += 1;
    rendition.lastUsed = ++this.uses;
    try {
      if (rendition.growing && (rendition.state === "writing" || rendition.fromMs !== undefined))
        return Uint8Array.from(rendition.growing.view(start, endInclusive + 1));
      return await this.files.read(rendition.key, rendition.dataPath, start, endInclusive);
    } finally {
      rendition.readers -= 1;
    }
  }

  private notify(rendition: Rendition): void {
    for (const wake of rendition.progressed) wake();
  }

  private async waitFor(rendition: Rendition, ready: () => boolean): Promise<void> {
    if (ready()) return;
    await this.within(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (ready()) {
            rendition.progressed.delete(check);
            resolve();
          }
        };
        rendition.progressed.add(check);
        rendition.done.then(check, (error: unknown) => {
          rendition.progressed.delete(check);
          reject(error instanceof Error ? error : new AppError("INTERNAL"));
        });
      }),
      "a piece of the rendition",
    );
  }

  private async within<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new AppError("TIMEOUT", `Waited too long for ${what}`)),
            this.config.waitTimeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Least recently used complete renditions go first; never one being read or written. */
  private async evict(): Promise<void> {
    const candidates = [...this.renditions.values()]
      .filter((r) => r.cached && r.state === "complete")
      .sort((a, b) => a.lastUsed - b.lastUsed);
    let total = candidates.reduce((sum, r) => sum + r.bytesWritten, 0);
    for (const rendition of candidates) {
      if (total <= this.config.capBytes) break;
      if (rendition.readers > 0) continue;
      this.renditions.delete(rendition.key);
      this.files.forget(rendition.key);
      this.hot.forget(rendition.key);
      total -= rendition.bytesWritten;
      this.evictions += 1;
      await rm(join(this.config.cacheDir, rendition.key), { recursive: true, force: true });
    }
  }
}
