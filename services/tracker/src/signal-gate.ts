// Which signals the tracker relays: only between peers it paired (named in a query answer, a holder of a rendition
// the sender looked up, or one that signalled the sender first), within per-user and per-pair budgets, with private
// addresses kept to peers on one network. It also remembers which pairs exchanged an offer and an answer.
import { AppError, filterSignal, type SignalData } from "@soundmesh/protocol";
import { TokenBucket, type RateLimitRule } from "@soundmesh/bus";
import type { SwarmIndex } from "./swarm-index";

export interface SignalLimits {
  /** Peers one peer may signal (most recently paired kept). */
  pairsPerPeer: number;
  /** Renditions a peer looked up that are remembered for pairing with their holders (2-hop discovery). */
  lookupsPerPeer: number;
  /** Signals per user, over all of the user's peers. */
  perUser: RateLimitRule;
  /** Signals from one peer to another. */
  perPair: RateLimitRule;
  /** Users whose signal budgets are remembered (the least recently active forgotten first). */
  usersRemembered: number;
}

export const defaultSignalLimits: SignalLimits = {
  pairsPerPeer: 256,
  lookupsPerPeer: 32,
  perUser: { ratePerSecond: 100, burst: 1_000 },
  perPair: { ratePerSecond: 20, burst: 100 },
  usersRemembered: 10_000,
};

interface Pair {
  bucket: TokenBucket;
  /** This side sent an offer through the tracker. */
  offered: boolean;
  /** An offer went one way and its answer the other: the two really talked. */
  exchanged: boolean;
}

interface PeerSignals {
  pairs: Map<string, Pair>;
  lookups: Map<string, true>;
}

/** Refreshes a key's place in an insertion-ordered map and drops the oldest past `limit`. */
function touch<K, V>(map: Map<K, V>, key: K, value: V, limit: number): V {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value as K);
  return value;
}

export class SignalGate {
  /** Signals refused (not paired, offline, over budget) and candidates dropped, since the tracker started. */
  readonly refused = { signals: 0, candidates: 0 };
  private readonly peers = new Map<string, PeerSignals>();
  private readonly userBuckets = new Map<string, TokenBucket>();

  constructor(
    private readonly index: SwarmIndex,
    private readonly limits: SignalLimits,
    private readonly nowMs: () => number,
  ) {}

  /** The asker looked up a rendition and was told of these peers: it may signal them, and the rendition's holders. */
  lookedUp(asker: string, renditionKey: string, named: readonly string[]): void {
    const state = this.stateOf(asker);
    touch(state.lookups, renditionKey, true, this.limits.lookupsPerPeer);
    for (const peerId of named) this.pair(state, peerId);
  }

  /**
   * The signal as `to` may receive it; throws FORBIDDEN (not paired, or a candidate naming an address `to` may not
   * be sent), NOT_FOUND (`to` is offline) or RATE_LIMITED. Records what the relay means for the pair.
   */
  admit(from: string, to: string, data: SignalData): SignalData {
    const state = this.stateOf(from);
    const pair = state.pairs.get(to) ?? (this.holdsLookedUp(state, to) ? this.pair(state, to) : undefined);
    if (!pair) throw this.refuse("FORBIDDEN", "Signal only peers the tracker named to you");
    if (!this.index.isOnline(to)) throw this.refuse("NOT_FOUND", "No such peer online");
    const userId = this.index.identityOf(from)?.userId ?? from;
    const userBucket = this.userBuckets.get(userId) ?? new TokenBucket(this.limits.perUser, this.nowMs());
    touch(this.userBuckets, userId, userBucket, this.limits.usersRemembered);
    if (!userBucket.tryTake(this.nowMs()) || !pair.bucket.tryTake(this.nowMs()))
      throw this.refuse("RATE_LIMITED", "Too many signals; slow down");
    const sameNetwork = this.index.sameNetwork(from, to);
    const filtered = filterSignal(data, (_address, scope) => scope !== "private" || sameNetwork);
    if (!filtered) {
      this.refused.candidates += 1;
      throw new AppError("FORBIDDEN", "The candidate names an address this peer may not be sent");
    }
    this.relayed(state, from, to, filtered.type);
    return filtered;
  }

  /** Whether the tracker relayed an offer one way and its answer the other between the two. */
  exchanged(a: string, b: string): boolean {
    return this.peers.get(a)?.pairs.get(b)?.exchanged ?? false;
  }

  forget(peerId: string): void {
    this.peers.delete(peerId);
  }

  private refuse(code: "FORBIDDEN" | "NOT_FOUND" | "RATE_LIMITED", message: string): AppError {
    this.refused.signals += 1;
    return new AppError(code, message);
  }

  private relayed(state: PeerSignals, from: string, to: string, type: SignalData["type"]): void {
    const pair = touch(state.pairs, to, state.pairs.get(to)!, this.limits.pairsPerPeer);
    // Whoever is signalled may answer: its reply path is paired too.
    const reverse = this.pair(this.stateOf(to), from);
    if (type === "offer") pair.offered = true;
    if (type === "answer" && reverse.offered) {
      reverse.exchanged = true;
      pair.exchanged = true;
    }
  }

  private holdsLookedUp(state: PeerSignals, peerId: string): boolean {
    for (const key of state.lookups.keys()) if (this.index.holds(peerId, key)) return true;
    return false;
  }

  private pair(state: PeerSignals, peerId: string): Pair {
    const pair = state.pairs.get(peerId) ?? {
      bucket: new TokenBucket(this.limits.perPair, this.nowMs()),
      offered: false,
      exchanged: false,
    };
    return touch(state.pairs, peerId, pair, this.limits.pairsPerPeer);
  }

  private stateOf(peerId: string): PeerSignals {
    let state = this.peers.get(peerId);
    if (!state) {
      state = { pairs: new Map(), lookups: new Map() };
      this.peers.set(peerId, state);
    }
    return state;
  }
}
