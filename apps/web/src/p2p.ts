// Peer-assisted streaming in the browser: the engine's sessions opened over the app's WebSocket (signalling,
// tracker, stats reports), RTCPeerConnection as the transport; uploads off by default on metered connections.
import type { EngineClient, EngineClientOptions, TrackerClient, UploadSettings } from "@soundmesh/engine";
import { announceResult, trackerContract } from "@soundmesh/protocol";
import type { Connection } from "./connection";

/** What p2p needs from the app's socket. */
export type SignalingConnection = Pick<Connection, "peerId" | "hello" | "call" | "sendSignal" | "onSignal">;

const UPLOAD_KEY = "soundmesh.p2p.upload";

interface NetworkInformationLike {
  type?: string;
  saveData?: boolean;
}

/** The browser says the connection is metered or cellular: no uploads unless the user turns them on. */
export function isMeteredConnection(): boolean {
  const info = (navigator as Navigator & { connection?: NetworkInformationLike }).connection;
  return info?.saveData === true || info?.type === "cellular";
}

export function uploadSettings(): Pick<UploadSettings, "enabled" | "bytesPerSecond"> {
  try {
    const saved = JSON.parse(localStorage.getItem(UPLOAD_KEY) ?? "null") as {
      enabled?: unknown;
      bytesPerSecond?: unknown;
    } | null;
    return {
      enabled: typeof saved?.enabled === "boolean" ? saved.enabled : !isMeteredConnection(),
      bytesPerSecond:
        typeof saved?.bytesPerSecond === "number" && saved.bytesPerSecond >= 0 ? saved.bytesPerSecond : 0,
    };
  } catch {
    return { enabled: !isMeteredConnection(), bytesPerSecond: 0 };
  }
}

/** Remembers the listener's upload choice for later sessions. */
export function saveUploadSettings(settings: Pick<UploadSettings, "enabled" | "bytesPerSecond">): void {
  localStorage.setItem(UPLOAD_KEY, JSON.stringify(settings));
}

/** The engine's P2P options in this browser; undefined without WebRTC. */
export function browserP2p(): EngineClientOptions["p2p"] {
  if (typeof RTCPeerConnection === "undefined") return undefined;
  return { RTCPeerConnection, upload: uploadSettings() };
}

/**
 * Opens the engine's session over the app's socket: signalling, the tracker and the stats reports go through it.
 * Returns undefined before the socket has its pseudonym.
 */
export function openBrowserSession(
  engine: EngineClient,
  connection: SignalingConnection,
  cachedKeys: string[],
): { close(): void } | undefined {
  if (!connection.peerId) return undefined;
  const stalls = countStalls();
  const tracker: TrackerClient = {
    announce: async (holdings) =>
      announceResult.parse(await connection.call(trackerContract, "announce", { holdings })),
    withdraw: async (renditions) => void (await connection.call(trackerContract, "withdraw", { renditions })),
    query: async (rendition) =>
      (await connection.call(trackerContract, "query", { ...rendition, limit: 10 })).peers,
    reportBadPeer: async (peerId, rendition, pieceIndex) =>
      void (await connection.call(trackerContract, "reportBadPeer", { ...rendition, peerId, pieceIndex })),
  };
  const session = engine.openSession(
    {
      peerId: connection.peerId,
      // The STUN/TURN servers (TURN credentials for this connection) the server named in its hello, as renewed since.
      iceServers: () => connection.hello?.iceServers,
      signaler: {
        send: (to, data) => {
          connection.sendSignal(to, data);
          return Promise.resolve();
        },
      },
      listen: (receive) => {
        // The session client passes on only a well-formed description or candidate.
        connection.onSignal(receive);
      },
      tracker,
      reportStats: async (report) => void (await connection.call(trackerContract, "reportStats", report)),
    },
    { cachedKeys, stutters: () => stalls.count() },
  );
  return {
    close() {
      stalls.stop();
      void session.close();
    },
  };
}

/** Audio buffered ahead of an element's playhead; Infinity when it has nothing to play. */
export function bufferedAheadMsOf(element: HTMLMediaElement): number {
  if (!element.src || element.ended) return Infinity;
  const now = element.currentTime;
  const ranges = element.buffered;
  for (let i = 0; i < ranges.length; i++)
    if (now >= ranges.start(i) - 0.05 && now <= ranges.end(i)) return (ranges.end(i) - now) * 1000;
  return 0;
}

/** Counts media elements' stalls ("waiting" after they started playing) anywhere in the document. */
function countStalls(): { count(): number; stop(): void } {
  let started = false;
  let stalls = 0;
  const onPlaying = () => {
    started = true;
  };
  const onWaiting = () => {
    if (started) stalls += 1;
  };
  document.addEventListener("playing", onPlaying, true);
  document.addEventListener("waiting", onWaiting, true);
  return {
    count: () => stalls,
    stop() {
      document.removeEventListener("playing", onPlaying, true);
      document.removeEventListener("waiting", onWaiting, true);
    },
  };
}
