// The tracker's memory: which online peers hold which renditions, most recent first, bounded per rendition and per
// user (never per socket: one user's many sockets share one budget), and who reported whom.
import { AppError, type AnnounceResult, type PeerInfo, type RenditionId } from "@soundmesh/protocol";

export interface SwarmLimits {
  /** Peers remembered per rendition (Spotify's tracker: 200). */
  peersPerRendition: number;
  /** Peers returned by one query (Spotify's tracker: 10). */
  peersPerQuery: number;
  /** Holdings listed per user, over all of the user's peers. */
  holdingsPerUser: number;
  /** Peers (sockets) online per user. */
  peersPerUser: number;
  /** Distinct reporting users after which a peer is dropped. */
  reportsToBan: number;
}

export const defaultSwarmLimits: SwarmLimits = {
  peersPerRendition: 200,
  peersPerQuery: 10,
  holdingsPerUser: 10_000,
  peersPerUser: 32,
  reportsToBan: 3,
};

export interface PeerIdentity {
  userId: string;
  sessionId: string;
  networkKey: string;
}

interface PeerRecord extends PeerIdentity {
  /** Rendition keys this peer is listed under, so going offline removes it everywhere at once. */
  holdings: Set<string>;
  /** Users who reported bad pieces from this peer. */
  reporters: Set<string>;
}

interface UserRecord {
  peers: Set<string>;
  /** Entries of all the user's peers. */
  holdings: number;
}

interface Holding {
  complete: boolean;
}

export const renditionKey = (rendition: RenditionId): string => `${rendition.trackId}.${rendition.profile}`;

export class SwarmIndex {
  private readonly peers = new Map<string, PeerRecord>();
  private readonly users = new Map<string, UserRecord>();
  /** Per rendition, peers in announce order: a Map keeps insertion order, so the newest is last. */
  private readonly holders = new Map<string, Map<string, Holding>>();

  constructor(private readonly limits: SwarmLimits = defaultSwarmLimits) {}

  /** A peer's socket opened; CONFLICT when its user already has as many peers online as allowed. */
  online(peerId: string, identity: PeerIdentity): void {
    const existing = this.peers.get(peerId);
    if (existing) {
      existing.networkKey = identity.networkKey;
      return;
    }
    const user = this.users.get(identity.userId) ?? { peers: new Set<string>(), holdings: 0 };
    if (user.peers.size >= this.limits.peersPerUser)
      throw new AppError("CONFLICT", `A user may have at most ${this.limits.peersPerUser} peers online`);
    user.peers.add(peerId);
    this.users.set(identity.userId, user);
    this.peers.set(peerId, { ...identity, holdings: new Set(), reporters: new Set() });
  }

  isOnline(peerId: string): boolean {
    return this.peers.has(peerId);
  }

  identityOf(peerId: string): Readonly<PeerIdentity> | undefined {
    return this.peers.get(peerId);
  }

  sameNetwork(a: string, b: string): boolean {
    const first = this.peers.get(a);
    return first !== undefined && first.networkKey === this.peers.get(b)?.networkKey;
  }

  holds(peerId: string, key: string): boolean {
    return this.holders.get(key)?.has(peerId) ?? false;
  }

  /** Removes every entry of the peer at once, and the user's record with its last peer. */
  offline(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    for (const key of [...peer.holdings]) this.unlist(key, peerId);
    this.peers.delete(peerId);
    const user = this.users.get(peer.userId);
    user?.peers.delete(peerId);
    if (user?.peers.size === 0) this.users.delete(peer.userId);
  }

  /**
   * Lists the peer under the holdings its session fetched; the others are named back (unfetched) or counted
   * (over the user's cap), never listed.
   */
  announce(
    peerId: string,
    holdings: ReadonlyArray<RenditionId & { complete: boolean }>,
    isFetched: (peer: Readonly<PeerIdentity>, key: string) => boolean,
  ): AnnounceResult {
    const peer = this.requirePeer(peerId);
    const user = this.users.get(peer.userId)!;
    const result: AnnounceResult = { accepted: 0, unfetched: [], overCap: 0 };
    for (const holding of holdings) {
      const key = renditionKey(holding);
      if (!isFetched(peer, key)) {
        result.unfetched.push({ trackId: holding.trackId, profile: holding.profile });
        continue;
      }
      const list = this.holders.get(key) ?? new Map<string, Holding>();
      if (!list.has(peerId) && user.holdings >= this.limits.holdingsPerUser) {
        result.overCap += 1;
        continue;
      }
      if (!list.has(peerId)) {
        peer.holdings.add(key);
        user.holdings += 1;
      }
      list.delete(peerId); // re-inserted as the most recent
      list.set(peerId, { complete: holding.complete });
      this.holders.set(key, list);
      result.accepted += 1;
      while (list.size > this.limits.peersPerRendition) this.unlist(key, list.keys().next().value as string);
    }
    return result;
  }

  withdraw(peerId: string, renditions: readonly RenditionId[]): void {
    this.requirePeer(peerId);
    for (const rendition of renditions) this.unlist(renditionKey(rendition), peerId);
  }

  /**
   * Online holders, the asker's own network first, then one peer per user before any user's second (so one user's
   * many sockets cannot push others out of the answer), the most recent first; never the asker.
   */
  query(asker: string, rendition: RenditionId, limit = this.limits.peersPerQuery): PeerInfo[] {
    const askerNetwork = this.peers.get(asker)?.networkKey;
    const list = this.holders.get(renditionKey(rendition));
    if (!list) return [];
    const perUser = new Map<string, number>();
    const ranked = [...list.entries()].reverse().flatMap(([peerId, holding]) => {
      const peer = this.peers.get(peerId);
      if (!peer || peerId === asker) return [];
      const rank = perUser.get(peer.userId) ?? 0;
      perUser.set(peer.userId, rank + 1);
      const sameNetwork = askerNetwork !== undefined && peer.networkKey === askerNetwork;
      return [{ info: { peerId, sameNetwork, complete: holding.complete }, rank }];
    });
    // Array.prototype.sort is stable: within one network and rank, the most recent stays first.
    ranked.sort((a, b) => Number(b.info.sameNetwork) - Number(a.info.sameNetwork) || a.rank - b.rank);
    return ranked.slice(0, Math.min(limit, this.limits.peersPerQuery)).map(({ info }) => info);
  }

  /**
   * Records a bad-piece report by a peer that exchanged with the reported one: true when enough distinct users
   * (not the reported peer's own) have reported it, and it has been dropped.
   */
  report(reporter: string, peerId: string): boolean {
    const peer = this.peers.get(peerId);
    const reporterUser = this.peers.get(reporter)?.userId;
    if (!peer || reporterUser === undefined || reporterUser === peer.userId) return false;
    peer.reporters.add(reporterUser);
    if (peer.reporters.size < this.limits.reportsToBan) return false;
    this.offline(peerId);
    return true;
  }

  stats(): { onlinePeers: number; renditions: number; entries: number; users: number } {
    let entries = 0;
    for (const list of this.holders.values()) entries += list.size;
    return { onlinePeers: this.peers.size, renditions: this.holders.size, entries, users: this.users.size };
  }

  private requirePeer(peerId: string): PeerRecord {
    const peer = this.peers.get(peerId);
    if (!peer) throw new AppError("UNAVAILABLE", "This peer is not online; reconnect first");
    return peer;
  }

  /** Takes one entry off a rendition's list and off its peer's and user's counts. */
  private unlist(key: string, peerId: string): void {
    const list = this.holders.get(key);
    if (!list?.delete(peerId)) return;
    if (list.size === 0) this.holders.delete(key);
    const peer = this.peers.get(peerId);
    if (peer?.holdings.delete(key)) {
      const user = this.users.get(peer.userId);
      if (user) user.holdings -= 1;
    }
  }
}
