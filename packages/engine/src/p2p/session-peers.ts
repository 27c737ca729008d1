// The engine's peer pool: stable for the fetcher's whole life, backed by the overlay of the session open now
// (none between sessions), with the session's pinger and byte-counter reports.
import type { ByteAccounting } from "../byte-accounting";
import type { PeerPieceSource, PeerPool } from "../piece-fetcher";
import type { CachedManifests, PieceStore, TrackRef } from "../sources";
import { PeerOverlay, type OverlayStats, type TrackerClient } from "./peer-overlay";
import { StatsReporter, type StatsReport } from "./stats-reporter";
import type { UploadSettings } from "./uploader";
import { WebRtcTransport, type RtcPeerConnectionConstructor, type Signaler } from "./webrtc-transport";
import type { IceServer, SignalData } from "@soundmesh/protocol";

/** A signed-in connection as P2P needs it: its pseudonym, signalling, the tracker and the stats report. */
/** A server as RTCPeerConnection takes it (no keys set to undefined). */
function toRtcIceServer({ urls, username, credential }: IceServer): RTCIceServer {
  return {
    urls,
    ...(username === undefined ? {} : { username }),
    ...(credential === undefined ? {} : { credential }),
  };
}

export interface PeerSession {
  peerId: string;
  /**
   * STUN/TURN servers the server named for this session (its hello frame, then each renewal); none: host candidates
   * only. A function is read for each new peer connection.
   */
  iceServers?: readonly IceServer[] | (() => readonly IceServer[] | undefined);
  signaler: Signaler;
  /** Hands this session's incoming signals to `receive`. */
  listen(receive: (from: string, data: SignalData) => void): void;
  tracker: TrackerClient;
  reportStats(report: StatsReport): Promise<void>;
}

export interface PeerSessionOptions {
  /** Track keys cached in earlier sessions: offered to others at once. */
  cachedKeys?: string[];
  /** Playback stalls so far, for the reports (none counted without it). */
  stutters?: () => number;
}

export interface SessionPeersOptions {
  store: PieceStore;
  manifests: CachedManifests;
  accounting: ByteAccounting;
  bufferedAheadMs: () => number;
  p2p?: {
    RTCPeerConnection: RtcPeerConnectionConstructor;
    /** "relay": connect to peers only through the session's TURN servers. */
    iceTransportPolicy?: RTCIceTransportPolicy;
    upload?: Partial<UploadSettings>;
    servedStore?: PieceStore;
  };
  onError?: (error: unknown) => void;
  pingEveryMs?: number;
  reportEveryMs?: number;
}

export class SessionPeers implements PeerPool {
  private overlay: PeerOverlay | undefined;
  private closeCurrent: (() => Promise<void>) | undefined;
  private upload: Partial<UploadSettings>;

  constructor(private readonly options: SessionPeersOptions) {
    this.upload = options.p2p?.upload ?? {};
  }

  get isOnline(): boolean {
    return this.overlay !== undefined;
  }

  holders(track: TrackRef): PeerPieceSource[] {
    return this.overlay?.holders(track) ?? [];
  }

  want(track: TrackRef): Promise<void> {
    return this.overlay?.want(track) ?? Promise.resolve();
  }

  stored(track: TrackRef, index: number): void {
    this.overlay?.stored(track, index);
  }

  evicted(key: string): void {
    this.overlay?.evicted(key);
  }

  reportBadPiece(peerId: string, track: TrackRef, index: number): void {
    this.overlay?.reportBadPiece(peerId, track, index);
  }

  /** The open session's overlay figures; undefined between sessions or without P2P. */
  stats(): OverlayStats | undefined {
    return this.overlay?.stats();
  }

  /** Upload settings for this session and the next ones. */
  configureUploads(settings: Partial<UploadSettings>): void {
    this.upload = { ...this.upload, ...settings };
    this.overlay?.configureUploads(settings);
  }

  open(session: PeerSession, sessionOptions: PeerSessionOptions = {}): { close(): Promise<void> } {
    void this.closeCurrent?.();
    const { options } = this;
    const onError = (error: unknown) => options.onError?.(error);
    let overlay: PeerOverlay | undefined;
    if (options.p2p) {
      const transport = new WebRtcTransport({
        selfId: session.peerId,
        signaler: session.signaler,
        RTCPeerConnection: options.p2p.RTCPeerConnection,
        ...(session.iceServers
          ? {
              iceServers: () => {
                const servers =
                  typeof session.iceServers === "function" ? session.iceServers() : session.iceServers;
                return (servers ?? []).map(toRtcIceServer);
              },
            }
          : {}),
        ...(options.p2p.iceTransportPolicy ? { iceTransportPolicy: options.p2p.iceTransportPolicy } : {}),
        onError,
      });
      session.listen((from, data) => transport.receive(from, data));
      overlay = new PeerOverlay({
        selfId: session.peerId,
        transport,
        tracker: session.tracker,
        store: options.p2p.servedStore ?? options.store,
        revalidate: (rendition) => options.manifests.isCurrent(rendition.trackId, rendition.profile),
        upload: this.upload,
        bufferedAheadMs: options.bufferedAheadMs,
        onError,
      });
      this.overlay = overlay;
      void announceCached(overlay, options.store, sessionOptions.cachedKeys ?? []).catch(onError);
    }
    const pinger = overlay ? setInterval(() => overlay.ping(), options.pingEveryMs ?? 5_000) : undefined;
    const reporter = new StatsReporter(
      () => {
        const stats = overlay?.stats();
        return {
          bytes: options.accounting.snapshot(),
          uploadedBytes: stats?.bytesUploaded ?? 0,
          neighbours: stats?.neighbours ?? 0,
          stutters: sessionOptions.stutters?.() ?? 0,
        };
      },
      (report) => session.reportStats(report),
    );
    const reporting = setInterval(
      () => void reporter.flush().catch(onError),
      options.reportEveryMs ?? 10_000,
    );
    let closed: Promise<void> | undefined;
    const close = () =>
      (closed ??= (async () => {
        clearInterval(pinger);
        clearInterval(reporting);
        if (this.overlay === overlay) this.overlay = undefined;
        if (this.closeCurrent === close) this.closeCurrent = undefined;
        await reporter.flush().catch(onError);
        overlay?.close();
      })());
    this.closeCurrent = close;
    return { close };
  }
}

/** Offers tracks cached in an earlier session; a growing manifest held from then covers part of the track only. */
async function announceCached(overlay: PeerOverlay, store: PieceStore, keys: string[]): Promise<void> {
  const held = [];
  for (const key of keys.slice(0, 500)) {
    const manifest = await store.getManifest(key);
    if (!manifest) continue;
    const track = { trackId: manifest.trackId, profile: manifest.profile, manifest };
    const complete = manifest.complete !== false && (await store.size(key)) >= manifest.sizeBytes;
    held.push({ track, complete });
  }
  await overlay.announceHeld(held);
}
