// The tracker service: serves the tracker contract over the bus, lists only what sessions fetched, and relays
// signaling between the peers it paired.
import type { Logger } from "pino";
import {
  AppError,
  peerBannedEvent,
  signalRelayEvent,
  trackerContract,
  type CallContext,
  type HandlersOf,
  type TrackerContract,
} from "@soundmesh/protocol";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import { FetchLog, type FetchLogLimits } from "./fetch-log";
import { SignalGate, defaultSignalLimits, type SignalLimits } from "./signal-gate";
import { SwarmIndex, defaultSwarmLimits, renditionKey, type SwarmLimits } from "./swarm-index";

export const trackerManifest = {
  service: "tracker",
  calls: [],
  publishes: ["tracker.signalRelay", "tracker.peerBanned"],
} as const satisfies ServiceManifest;

export interface TrackerLimits extends SwarmLimits {
  signals: SignalLimits;
  fetched: FetchLogLimits;
}

export const defaultTrackerLimits: TrackerLimits = {
  ...defaultSwarmLimits,
  signals: defaultSignalLimits,
  fetched: { perUser: 10_000, total: 500_000 },
};

export interface TrackerServiceDeps {
  config?: Partial<SwarmLimits> & { signals?: Partial<SignalLimits>; fetched?: Partial<FetchLogLimits> };
  logger: Logger;
  bus: ServiceBus;
  nowMs?: () => number;
}

export interface TrackerService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<TrackerContract>;
  index: SwarmIndex;
  signals: SignalGate;
}

const ok = { ok: true as const };

function callerPeer(ctx: CallContext): string {
  if (!ctx.peerId) throw new AppError("FORBIDDEN", "Only a connected client has a peer pseudonym");
  return ctx.peerId;
}

export function createTrackerService({ config, logger, bus, nowMs }: TrackerServiceDeps): TrackerService {
  const limits: TrackerLimits = {
    ...defaultTrackerLimits,
    ...config,
    signals: { ...defaultTrackerLimits.signals, ...config?.signals },
    fetched: { ...defaultTrackerLimits.fetched, ...config?.fetched },
  };
  const index = new SwarmIndex(limits);
  const fetched = new FetchLog(limits.fetched);
  const signals = new SignalGate(index, limits.signals, nowMs ?? (() => performance.now()));
  let subscription: Subscription | undefined;
  const reported = { cache: 0, peer: 0, server: 0, uploadedBytes: 0, stutters: 0 };
  const refused = {
    unfetchedHoldings: 0,
    holdingsOverCap: 0,
    peersOverCap: 0,
    reports: 0,
  };
  const onlinePeer = (ctx: CallContext) => {
    const peerId = callerPeer(ctx);
    if (!index.isOnline(peerId))
      throw new AppError("UNAVAILABLE", "This peer is not online; reconnect first");
    return peerId;
  };
  /** Each online peer's last reported neighbour count; gone with the peer. */
  const neighbourCounts = new Map<string, number>();

  const handlers: HandlersOf<TrackerContract> = {
    announce({ holdings }, ctx) {
      const result = index.announce(callerPeer(ctx), holdings, (peer, key) =>
        fetched.has(peer.userId, peer.sessionId, key),
      );
      refused.unfetchedHoldings += result.unfetched.length;
      refused.holdingsOverCap += result.overCap;
      return result;
    },
    withdraw({ renditions }, ctx) {
      index.withdraw(callerPeer(ctx), renditions);
      return ok;
    },
    query({ trackId, profile, limit }, ctx) {
      const asker = callerPeer(ctx);
      const peers = index.query(asker, { trackId, profile }, limit);
      if (index.isOnline(asker))
        signals.lookedUp(
          asker,
          renditionKey({ trackId, profile }),
          peers.map((peer) => peer.peerId),
        );
      return { peers };
    },
    async reportBadPeer({ peerId, trackId, profile, pieceIndex }, ctx) {
      const reporter = callerPeer(ctx);
      // Only a peer that really talked to the accused (an offer and an answer relayed) can have had bad pieces.
      if (!signals.exchanged(reporter, peerId)) {
        refused.reports += 1;
        logger.info({ reporter, peerId, traceId: ctx.traceId }, "bad-piece report from a stranger ignored");
        return ok;
      }
      logger.warn(
        { reporter, peerId, trackId, profile, pieceIndex, traceId: ctx.traceId },
        "bad piece reported",
      );
      if (index.report(reporter, peerId)) {
        signals.forget(peerId);
        neighbourCounts.delete(peerId);
        await bus.publish(
          peerBannedEvent,
          { peerId, reason: "sent pieces that fail their hash" },
          { traceId: ctx.traceId },
        );
      }
      return ok;
    },
    async signal({ to, data }, ctx) {
      const from = onlinePeer(ctx);
      if (to === from) throw new AppError("BAD_REQUEST", "A peer cannot signal itself");
      const relayed = signals.admit(from, to, data);
      await bus.publish(signalRelayEvent, { to, from, data: relayed }, { traceId: ctx.traceId });
      return ok;
    },
    peerOnline({ peerId, userId, sessionId, networkKey }) {
      try {
        index.online(peerId, { userId, sessionId, networkKey });
      } catch (error) {
        refused.peersOverCap += 1;
        throw error;
      }
      return ok;
    },
    renditionFetched({ trackId, profile, userId, sessionId }) {
      fetched.record(userId, sessionId, renditionKey({ trackId, profile }));
      return ok;
    },
    reportStats(counters, ctx) {
      const peerId = callerPeer(ctx);
      reported.cache += counters.cacheBytes;
      reported.peer += counters.peerBytes;
      reported.server += counters.serverBytes;
      reported.uploadedBytes += counters.uploadedBytes;
      reported.stutters += counters.stutters;
      if (index.isOnline(peerId)) neighbourCounts.set(peerId, counters.neighbours);
      return ok;
    },
    peerOffline({ peerId }) {
      index.offline(peerId);
      signals.forget(peerId);
      neighbourCounts.delete(peerId);
      return ok;
    },
    stats() {
      let neighbours = 0;
      for (const count of neighbourCounts.values()) neighbours += count;
      return {
        ...index.stats(),
        fetched: fetched.size,
        clientBytes: { cache: reported.cache, peer: reported.peer, server: reported.server },
        uploadedBytes: reported.uploadedBytes,
        stutters: reported.stutters,
        neighbours,
        refused: { ...refused, ...signals.refused },
      };
    },
  };

  return {
    handlers,
    index,
    signals,
    async start() {
      subscription = await bus.serve(trackerContract, handlers);
    },
    async stop() {
      await subscription?.unsubscribe();
      subscription = undefined;
    },
  };
}
