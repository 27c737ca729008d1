// Contract of the tracker: which online peers hold which renditions, and the relay for WebRTC signaling.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";
import { CANDIDATE_LINE } from "./ice-candidates";
import { profileName, trackId } from "./stream";

export * from "./ice-candidates";

/** A per-session pseudonym: peers never see user names or session ids. */
export const peerId = z.string().regex(/^p_[A-Za-z0-9_-]{16,64}$/, "a peer pseudonym");
export const renditionId = z.object({ trackId, profile: profileName });
export type RenditionId = z.infer<typeof renditionId>;

/** An ICE candidate line (or "" for end of candidates): only the receiver's own ICE agent ever acts on it. */
const candidateLine = z
  .string()
  .max(1_000)
  .refine((line) => line === "" || CANDIDATE_LINE.test(line), "an ICE candidate line");

const candidate = z.object({
  candidate: candidateLine,
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});

/**
 * What one peer may send another through the server: session descriptions and ICE candidates made by
 * the browser's own WebRTC stack. There is no field for an address to connect to.
 */
/** A session description: `v=0` then `<letter>=<value>` lines, nothing else. */
const sdp = z
  .string()
  .max(32_000)
  .regex(/^v=0(?:\r?\n[a-z]=[^\r\n]*)*(?:\r?\n)?$/, "a session description");

export const signalData = z.discriminatedUnion("type", [
  z.object({ type: z.literal("offer"), sdp }),
  z.object({ type: z.literal("answer"), sdp }),
  z.object({ type: z.literal("candidate"), candidate: candidate.nullable() }),
  z.object({ type: z.literal("bye") }),
]);
export type SignalData = z.infer<typeof signalData>;

export const peerInfo = z.object({
  peerId,
  /** Seen from the same public address as the asker: likely the same LAN, so tried first. */
  sameNetwork: z.boolean(),
  /** Whether the peer holds the whole rendition or only part of it. */
  complete: z.boolean(),
});
export type PeerInfo = z.infer<typeof peerInfo>;

const ok = z.object({ ok: z.literal(true) });

/** What became of announced holdings: only renditions the session fetched from the server are listed. */
export const announceResult = z.object({
  /** Holdings now listed (new or refreshed). */
  accepted: z.number().int().nonnegative(),
  /**
   * Renditions this session has not fetched from the server since the tracker started: ignored. A client that
   * holds them (a cache kept across a reload or a server restart) fetches or revalidates their manifests, then
   * announces them again.
   */
  unfetched: z.array(renditionId).max(500),
  /** Holdings ignored because the user's peers already hold as many as the tracker keeps per user. */
  overCap: z.number().int().nonnegative(),
});
export type AnnounceResult = z.infer<typeof announceResult>;

const userId = z.string().min(1).max(128);
const sessionId = z.string().min(1).max(128);

export const trackerContract = defineService("tracker", {
  /** Exposed: the caller (ctx.peerId) holds these renditions, whole or in part. */
  announce: {
    params: z.object({
      holdings: z
        .array(renditionId.extend({ complete: z.boolean() }))
        .min(1)
        .max(500),
    }),
    result: announceResult,
    exposed: true,
  },
  /** Exposed: the caller no longer holds these (evicted from its cache). */
  withdraw: {
    params: z.object({ renditions: z.array(renditionId).min(1).max(500) }),
    result: ok,
    exposed: true,
  },
  /**
   * Exposed: up to 10 online peers holding a rendition, most recent first, never the asker, at most one per user
   * before any user's second. The asker may then signal the peers named (and other holders of the rendition).
   */
  query: {
    params: renditionId.extend({ limit: z.number().int().min(1).max(10).default(10) }),
    result: z.object({ peers: z.array(peerInfo) }),
    exposed: true,
  },
  /**
   * Exposed: a peer sent a piece whose hash did not match the manifest. Counted only from a peer the tracker
   * paired with it (it relayed an offer and an answer between them), once per reporting user.
   */
  reportBadPeer: {
    params: renditionId.extend({ peerId, pieceIndex: z.number().int().nonnegative() }),
    result: ok,
    exposed: true,
  },
  /**
   * Exposed: a client's byte counters since its previous report (bytes by source, bytes uploaded to peers)
   * and its current neighbour count, for the server's P2P metrics.
   */
  reportStats: {
    params: z.object({
      cacheBytes: z.number().int().min(0).max(1e12),
      peerBytes: z.number().int().min(0).max(1e12),
      serverBytes: z.number().int().min(0).max(1e12),
      uploadedBytes: z.number().int().min(0).max(1e12),
      neighbours: z.number().int().min(0).max(1_000),
      stutters: z.number().int().min(0).max(1e6).default(0),
    }),
    result: ok,
    exposed: true,
  },
  /**
   * Internal (access point): relays a signal from ctx.peerId to `to`, whose candidates the sender's access point
   * has already filtered against the sender's own addresses. FORBIDDEN unless the tracker paired the two;
   * NOT_FOUND when `to` is not online; RATE_LIMITED past the user's or the pair's budget.
   */
  signal: { params: z.object({ to: peerId, data: signalData }), result: ok },
  /**
   * Internal (access point): a peer's socket opened: its user and session (for per-user limits and what the
   * session fetched) and the network it came from (a hash of its address). CONFLICT past the peers per user.
   */
  peerOnline: {
    params: z.object({ peerId, userId, sessionId, networkKey: z.string().max(128) }),
    result: ok,
  },
  /** Internal (access point): a peer's socket closed; its entries disappear at once. */
  peerOffline: { params: z.object({ peerId }), result: ok },
  /**
   * Internal (access point's stream routes): a session fetched (or revalidated) a rendition's manifest, so the
   * track exists and the profile is known; its peers may announce holding it.
   */
  renditionFetched: { params: renditionId.extend({ userId, sessionId }), result: ok },
  stats: {
    params: z.object({}),
    result: z.object({
      onlinePeers: z.number().int(),
      renditions: z.number().int(),
      entries: z.number().int(),
      /** Users with peers online. */
      users: z.number().int(),
      /** Renditions remembered as fetched, over all sessions. */
      fetched: z.number().int(),
      /** Totals reported by clients since the tracker started. */
      clientBytes: z.object({ cache: z.number(), peer: z.number(), server: z.number() }),
      uploadedBytes: z.number(),
      stutters: z.number(),
      /** Sum of the neighbour counts online peers last reported. */
      neighbours: z.number().int(),
      /** What the tracker ignored or refused since it started. */
      refused: z.object({
        unfetchedHoldings: z.number().int(),
        holdingsOverCap: z.number().int(),
        peersOverCap: z.number().int(),
        reports: z.number().int(),
        signals: z.number().int(),
        candidates: z.number().int(),
      }),
    }),
  },
});
export type TrackerContract = typeof trackerContract;

/** A rendition as peers name it on their data channels: `<trackId>.<profile>`. */
export const peerTrackKey = z.string().regex(/^[A-Za-z0-9_-]{1,64}\.[a-z0-9]{1,32}$/, "a track key");

/**
 * Control messages on the peer data channel (JSON; pieces travel as binary frames): which tracks a
 * neighbour holds, 2-hop "who has" queries, and pings for latency. Every field is bounded.
 */
export const peerControlMessage = z.discriminatedUnion("t", [
  z.object({ t: z.literal("have"), keys: z.array(peerTrackKey).max(500) }),
  z.object({ t: z.literal("lost"), keys: z.array(peerTrackKey).max(500) }),
  z.object({
    t: z.literal("whoHas"),
    queryId: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 31),
    key: peerTrackKey,
  }),
  z.object({
    t: z.literal("holders"),
    queryId: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 31),
    key: peerTrackKey,
    /** Whether the answering neighbour holds the track itself. */
    self: z.boolean(),
    /** Its neighbours that announced the track: the second hop. */
    peers: z.array(peerId).max(20),
  }),
  z.object({ t: z.literal("ping"), sentMs: z.number().finite() }),
  z.object({ t: z.literal("pong"), sentMs: z.number().finite() }),
]);
export type PeerControlMessage = z.infer<typeof peerControlMessage>;

/** Published by the tracker for the access point holding `to` to deliver as a `signal` frame. */
export const signalRelayEvent = defineEvent(
  "tracker.signalRelay",
  z.object({ to: peerId, from: peerId, data: signalData }),
);

/** Published when the tracker drops a peer (bad pieces), so access points can close its socket. */
export const peerBannedEvent = defineEvent("tracker.peerBanned", z.object({ peerId, reason: z.string() }));
