// The tracker service: serves the tracker contract over the bus and relays signaling between online peers.
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
import { SwarmIndex, defaultSwarmLimits, type SwarmLimits } from "./swarm-index";

export const trackerManifest = {
  service: "tracker",
  calls: [],
  publishes: ["tracker.signalRelay", "tracker.peerBanned"],
} as const satisfies ServiceManifest;

export interface TrackerServiceDeps {
  config?: Partial<SwarmLimits>;
  logger: Logger;
  bus: ServiceBus;
}

export interface TrackerService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<TrackerContract>;
  index: SwarmIndex;
}

const ok = { ok: true as const };

function callerPeer(ctx: CallContext): string {
  if (!ctx.peerId) throw new AppError("FORBIDDEN", "Only a connected client has a peer pseudonym");
  return ctx.peerId;
}

export function createTrackerService({ config, logger, bus }: TrackerServiceDeps): TrackerService {
  const index = new SwarmIndex({ ...defaultSwarmLimits, ...config });
  let subscription: Subscription | undefined;
  const reported = { cache: 0, peer: 0, server: 0, uploadedBytes: 0, stutters: 0 };
  /** Each online peer's last reported neighbour count; gone with the peer. */
  const neighbourCounts = new Map<string, number>();

  const handlers: HandlersOf<TrackerContract> = {
    announce({ holdings }, ctx) {
      index.announce(callerPeer(ctx), holdings);
      return ok;
    },
    withdraw({ renditions }, ctx) {
      index.withdraw(callerPeer(ctx), renditions);
      return ok;
    },
    query({ trackId, profile, limit }, ctx) {
      return { peers: index.query(callerPeer(ctx), { trackId, profile }, limit) };
    },
    async reportBadPeer({ peerId, trackId, profile, pieceIndex }, ctx) {
      const reporter = callerPeer(ctx);
      logger.warn(
        { reporter, peerId, trackId, profile, pieceIndex, traceId: ctx.traceId },
        "bad piece reported",
      );
      if (index.report(reporter, peerId)) {
        await bus.publish(
          peerBannedEvent,
          { peerId, reason: "sent pieces that fail their hash" },
          { traceId: ctx.traceId },
        );
      }
      return ok;
    },
    async signal({ to, data }, ctx) {
      const from = callerPeer(ctx);
      if (to === from) throw new AppError("BAD_REQUEST", "A peer cannot signal itself");
      if (!index.isOnline(to)) throw new AppError("NOT_FOUND", "No such peer online");
      await bus.publish(signalRelayEvent, { to, from, data }, { traceId: ctx.traceId });
      return ok;
    },
    peerOnline({ peerId, networkKey }) {
      index.online(peerId, networkKey);
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
      neighbourCounts.delete(peerId);
      return ok;
    },
    stats() {
      let neighbours = 0;
      for (const count of neighbourCounts.values()) neighbours += count;
      return {
        ...index.stats(),
        clientBytes: { cache: reported.cache, peer: reported.peer, server: reported.server },
        uploadedBytes: reported.uploadedBytes,
        stutters: reported.stutters,
        neighbours,
      };
    },
  };

  return {
    handlers,
    index,
    async start() {
      subscription = await bus.serve(trackerContract, handlers);
    },
    async stop() {
      await subscription?.unsubscribe();
      subscription = undefined;
    },
  };
}
