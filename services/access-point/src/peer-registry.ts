// P2P on the access point: per-session pseudonyms, the tracker told of sockets coming and going, relayed signals delivered.
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { peerBannedEvent, signalRelayEvent, trackerContract } from "@soundmesh/protocol";
import type { ServiceBus, Subscription } from "@soundmesh/bus";
import { networkOf } from "./client-network";

export interface PeerEndpoint {
  readonly peerId: string;
  deliverSignal(from: string, data: unknown): void;
  close(code: number, reason: string): void;
}

export class PeerRegistry {
  private readonly endpoints = new Map<string, PeerEndpoint>();
  private readonly secret = randomBytes(32);
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: ServiceBus,
    private readonly logger: Logger,
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
        this.endpoints.get(to)?.deliverSignal(from, data),
      ),
      this.bus.subscribe(peerBannedEvent, ({ peerId }) =>
        this.endpoints.get(peerId)?.close(4003, "dropped by the tracker"),
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
    this.endpoints.set(endpoint.peerId, endpoint);
    const networkKey = createHash("sha256")
      .update(`soundmesh-net:${networkOf(address)}`)
      .digest("base64url");
    await this.tell("peerOnline", { peerId: endpoint.peerId, networkKey });
  }

  async remove(endpoint: PeerEndpoint): Promise<void> {
    if (this.endpoints.get(endpoint.peerId) !== endpoint) return;
    this.endpoints.delete(endpoint.peerId);
    await this.tell("peerOffline", { peerId: endpoint.peerId });
  }

  private async tell(method: "peerOnline" | "peerOffline", params: { peerId: string; networkKey?: string }) {
    try {
      if (method === "peerOnline")
        await this.bus.request(trackerContract, method, {
          peerId: params.peerId,
          networkKey: params.networkKey ?? "",
        });
      else await this.bus.request(trackerContract, method, { peerId: params.peerId });
    } catch (error) {
      // Without a tracker, P2P is off; playback from the server and cache is unaffected.
      this.logger.debug({ err: error, method }, "tracker not told of a peer");
    }
  }
}
