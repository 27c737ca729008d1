// The tracker's memory: which online peers hold which renditions, most recent first, bounded per rendition.
import { AppError, type PeerInfo, type RenditionId } from "@soundmesh/protocol";

export interface SwarmLimits {
  /** Peers remembered per rendition (Spotify's tracker: 200). */
  peersPerRendition: number;
  /** Peers returned by one query (Spotify's tracker: 10). */
  peersPerQuery: number;
  /** Renditions one peer may announce. */
  holdingsPerPeer: number;
  /** Distinct reporters of bad pieces after which a peer is dropped. */
  reportsToBan: number;
}

export const defaultSwarmLimits: SwarmLimits = {
  peersPerRendition: 200,
  peersPerQuery: 10,
  holdingsPerPeer: 10_000,
  reportsToBan: 3,
};

interface PeerRecord {
  networkKey: string;
  /** Rendition keys this peer is listed under, so going offline removes it everywhere at once. */
  holdings: Set<string>;
  reporters: Set<string>;
}

interface Holding {
  complete: boolean;
}

export const renditionKey = (rendition: RenditionId): string => `${rendition.trackId}.${rendition.profile}`;

export class SwarmIndex {
  private readonly peers = new Map<string, PeerRecord>();
  /** Per rendition, peers in announce order: a Map keeps insertion order, so the newest is last. */
  private readonly holders = new Map<string, Map<string, Holding>>();

  constructor(private readonly limits: SwarmLimits = defaultSwarmLimits) {}

  online(peerId: string, networkKey: string): void {
    const existing = this.peers.get(peerId);
    if (existing) existing.networkKey = networkKey;
    else this.peers.set(peerId, { networkKey, holdings: new Set(), reporters: new Set() });
  }

  isOnline(peerId: string): boolean {
    return this.peers.has(peerId);
  }

  /** Removes every entry of the peer at once. */
  offline(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    for (const key of peer.holdings) this.removeHolder(key, peerId);
    this.peers.delete(peerId);
  }

  announce(peerId: string, holdings: ReadonlyArray<RenditionId & { complete: boolean }>): void {
    const peer = this.requirePeer(peerId);
    for (const holding of holdings) {
      const key = renditionKey(holding);
      if (!peer.holdings.has(key) && peer.holdings.size >= this.limits.holdingsPerPeer) {
        throw new AppError(
          "CONFLICT",
          `A peer may announce at most ${this.limits.holdingsPerPeer} renditions`,
        );
      }
      const list = this.holders.get(key) ?? new Map<string, Holding>();
      list.delete(peerId); // re-insert as the most recent
      list.set(peerId, { complete: holding.complete });
      peer.holdings.add(key);
      while (list.size > this.limits.peersPerRendition) {
        const oldest = list.keys().next().value as string;
        list.delete(oldest);
        this.peers.get(oldest)?.holdings.delete(key);
      }
      this.holders.set(key, list);
    }
  }

  withdraw(peerId: string, renditions: readonly RenditionId[]): void {
    const peer = this.requirePeer(peerId);
    for (const rendition of renditions) {
      const key = renditionKey(rendition);
      peer.holdings.delete(key);
      this.removeHolder(key, peerId);
    }
  }

  /** Online holders, newest first, the asker's own network first; never the asker. */
  query(asker: string, rendition: RenditionId, limit = this.limits.peersPerQuery): PeerInfo[] {
    const askerNetwork = this.peers.get(asker)?.networkKey;
    const list = this.holders.get(renditionKey(rendition));
    if (!list) return [];
    const newestFirst = [...list.entries()]
      .reverse()
      .filter(([peerId]) => peerId !== asker && this.peers.has(peerId));
    const infos = newestFirst.map(([peerId, holding]) => ({
      peerId,
      sameNetwork: askerNetwork !== undefined && this.peers.get(peerId)?.networkKey === askerNetwork,
      complete: holding.complete,
    }));
    const ordered = [
      ...infos.filter((info) => info.sameNetwork),
      ...infos.filter((info) => !info.sameNetwork),
    ];
    return ordered.slice(0, Math.min(limit, this.limits.peersPerQuery));
  }

  /** Records a bad-piece report; true when the peer has now been reported by enough distinct peers to drop it. */
  report(reporter: string, peerId: string): boolean {
    const peer = this.peers.get(peerId);
    if (!peer || reporter === peerId) return false;
    peer.reporters.add(reporter);
    if (peer.reporters.size < this.limits.reportsToBan) return false;
    this.offline(peerId);
    return true;
  }

  stats(): { onlinePeers: number; renditions: number; entries: number } {
    let entries = 0;
    for (const list of this.holders.values()) entries += list.size;
    return { onlinePeers: this.peers.size, renditions: this.holders.size, entries };
  }

  private requirePeer(peerId: string): PeerRecord {
    const peer = this.peers.get(peerId);
    if (!peer) throw new AppError("UNAVAILABLE", "This peer is not online; reconnect first");
    return peer;
  }

  private removeHolder(key: string, peerId: string): void {
    const list = this.holders.get(key);
    if (!list) return;
    list.delete(peerId);
    if (list.size === 0) this.holders.delete(key);
  }
}
