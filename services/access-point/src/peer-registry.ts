// P2P on the access point: per-connection pseudonyms, the tracker told of sockets coming and going (with their user
// and session), outgoing signals held to the sender's own addresses, relayed signals delivered.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { networkInterfaces } from "node:os";
import type { Logger } from "pino";
import {
  addressScope,
  canonicalAddress,
  filterSignal,
  peerBannedEvent,
  signalRelayEvent,
  trackerContract,
  v6PrefixOf,
  type AddressPolicy,
  type SignalData,
} from "@soundmesh/protocol";
import type { ServiceBus, Subscription } from "@soundmesh/bus";
import { networkOf } from "./client-network";

export interface PeerEndpoint {
  readonly peerId: string;
  readonly identity: { readonly user: { readonly id: string }; readonly sessionId: string };
  deliverSignal(from: string, data: unknown): void;
  close(code: number, reason: string): void;
}

interface Peer {
  endpoint: PeerEndpoint;
  /** Which public addresses the peer may name in its candidates: its own, as this access point sees it. */
  policy: AddressPolicy;
}

/** This machine's addresses: a client that reaches the server over loopback runs on it and owns them. */
export function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
}

/**
 * The addresses a client owns, from the address its socket came from: that address (an IPv6 one with its /64, the
 * prefix its network is given), or every address of this machine for a client on loopback. Private addresses pass
 * here and are kept to peers on the sender's network by the tracker, which knows both networks.
 */
export function senderPolicy(
  observed: string,
  localAddresses: () => string[],
  relayAddresses: readonly string[] = [],
): AddressPolicy {
  const own = new Set<string>();
  // The configured STUN/TURN servers' addresses: what a relayed candidate names instead of the sender's own.
  for (const address of relayAddresses) own.add(canonicalAddress(address) ?? "");
  const prefixes = new Set<string>();
  const addresses = addressScope(observed) === "loopback" ? localAddresses() : [observed];
  for (const address of addresses) {
    const canonical = canonicalAddress(address);
    if (canonical !== undefined) own.add(canonical);
    const prefix = v6PrefixOf(address);
    if (prefix !== undefined && addressScope(address) === "public") prefixes.add(prefix);
  }
  return (address, scope) => {
    if (scope !== "public") return true;
    const prefix = v6PrefixOf(address);
    return own.has(canonicalAddress(address) ?? "") || (prefix !== undefined && prefixes.has(prefix));
  };
}

export class PeerRegistry {
  private readonly peers = new Map<string, Peer>();
  private readonly secret = randomBytes(32);
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: ServiceBus,
    private readonly logger: Logger,
    private readonly localAddresses: () => string[] = machineAddresses,
    private readonly relayAddresses: readonly string[] = [],
  ) {}

  /**
   * A pseudonym for one connection of a session, from which the session cannot be recovered. Per connection,
   * not per session: two tabs of one browser share a session but are two peers with their own players.
   */
  pseudonymOf(sessionId: string): string {
    const connection = randomBytes(16);
    return `p_${createHmac("sha256", this.secret).update(sessionId).update(connection).digest("base64url").slice(0, 22)}`;
  }

  async start(): Promise<void> {
    this.subscriptions = await Promise.all([
      this.bus.subscribe(signalRelayEvent, ({ to, from, data }) =>
        this.peers.get(to)?.endpoint.deliverSignal(from, data),
      ),
      this.bus.subscribe(peerBannedEvent, ({ peerId }) =>
        this.peers.get(peerId)?.endpoint.close(4003, "dropped by the tracker"),
      ),
    ]);
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.map((subscription) => subscription.unsubscribe()));
    this.subscriptions = [];
  }

  /**
   * The tracker learns of the peer with a hash of its network (see networkOf), never the address itself: peers
   * on one LAN are offered to each other first. Unkeyed, so every access point of a cluster gives one network
   * one key; the key stays inside the services (clients are told only "same network" or not).
   */
  async add(endpoint: PeerEndpoint, address: string): Promise<void> {
    this.peers.set(endpoint.peerId, {
      endpoint,
      policy: senderPolicy(address, this.localAddresses, this.relayAddresses),
    });
    const networkKey = createHash("sha256")
      .update(`soundmesh-net:${networkOf(address)}`)
      .digest("base64url");
    try {
      await this.bus.request(trackerContract, "peerOnline", {
        peerId: endpoint.peerId,
        userId: endpoint.identity.user.id,
        sessionId: endpoint.identity.sessionId,
        networkKey,
      });
    } catch (error) {
      // Without a tracker (or past the user's peers), P2P is off for this socket; playback is unaffected.
      this.logger.debug({ err: error }, "tracker not told of a peer");
    }
  }

  async remove(endpoint: PeerEndpoint): Promise<void> {
    if (this.peers.get(endpoint.peerId)?.endpoint !== endpoint) return;
    this.peers.delete(endpoint.peerId);
    try {
      await this.bus.request(trackerContract, "peerOffline", { peerId: endpoint.peerId });
    } catch (error) {
      this.logger.debug({ err: error }, "tracker not told of a peer leaving");
    }
  }

  /**
   * An outgoing signal with every public address that is not the sender's own removed (and loopback, link-local,
   * multicast and host names always); undefined when its one candidate names such an address.
   */
  outgoing(peerId: string, data: SignalData): SignalData | undefined {
    const policy: AddressPolicy = this.peers.get(peerId)?.policy ?? ((_address, scope) => scope !== "public");
    return filterSignal(data, policy);
  }
}
