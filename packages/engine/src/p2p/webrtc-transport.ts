// PeerTransport over RTCPeerConnection data channels, signaled through the access point by pseudonym. The same
// code runs in browsers and in Node (node-datachannel's polyfill): only this side's own ICE agent ever decides
// where to connect; a received candidate or description is handed to RTCPeerConnection and nothing else.
import { filterSignal, relayableOnly, type SignalData } from "@soundmesh/protocol";
import { BufferedChannelEvents, type PeerChannel, type PeerTransport } from "./peer-transport";

export type RtcPeerConnectionConstructor = new (configuration?: RTCConfiguration) => RTCPeerConnection;

export interface Signaler {
  /** Sends a signal to a pseudonym through the server; rejects when the server refuses it. */
  send(to: string, data: SignalData): Promise<void>;
}

export interface WebRtcTransportOptions {
  selfId: string;
  signaler: Signaler;
  RTCPeerConnection: RtcPeerConnectionConstructor;
  /** The servers for each new connection: read when it is made (TURN credentials are renewed on a long session). */
  iceServers?: RTCIceServer[] | (() => RTCIceServer[]);
  /** "relay": only TURN-relayed candidates are gathered and used (tests, or listeners who hide their address). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  onError?: (error: unknown) => void;
}

/** An open data channel. */
class RtcChannel implements PeerChannel {
  private readonly events = new BufferedChannelEvents();

  constructor(
    private readonly channel: RTCDataChannel,
    private readonly onClosed: () => void,
  ) {
    channel.onmessage = (event: MessageEvent<unknown>) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) this.events.message(new Uint8Array(data));
      else if (ArrayBuffer.isView(data))
        this.events.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    };
    channel.onclose = () => this.closed();
    channel.onerror = () => this.closed();
  }

  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  send(bytes: Uint8Array): void {
    this.channel.send(bytes as Uint8Array<ArrayBuffer>);
  }

  listen(onMessage: (bytes: Uint8Array) => void, onClose: () => void): void {
    this.events.listen(onMessage, onClose);
  }

  close(): void {
    try {
      this.channel.close();
    } finally {
      this.closed();
    }
  }

  closed(): void {
    if (this.events.isClosed) return;
    this.events.close();
    this.onClosed();
  }
}

interface Session {
  pc: RTCPeerConnection;
  initiator: boolean;
  channel: RtcChannel | undefined;
  hasRemote: boolean;
  candidates: RTCIceCandidateInit[];
  waiters: Array<{ resolve: (channel: PeerChannel) => void; reject: (error: Error) => void }>;
}

export class WebRtcTransport implements PeerTransport {
  private readonly sessions = new Map<string, Session>();
  private incoming: (peerId: string, channel: PeerChannel) => void = (_peerId, channel) => channel.close();
  private isClosed = false;

  constructor(private readonly options: WebRtcTransportOptions) {}

  onIncoming(handler: (peerId: string, channel: PeerChannel) => void): void {
    this.incoming = handler;
  }

  connect(peerId: string, signal: AbortSignal): Promise<PeerChannel> {
    if (this.isClosed) return Promise.reject(new Error("transport closed"));
    let session = this.sessions.get(peerId);
    if (session?.channel) return Promise.resolve(session.channel);
    if (!session) {
      session = this.open(peerId, true);
      const created = session;
      const channel = created.pc.createDataChannel("soundmesh", { ordered: true });
      this.wire(peerId, created, channel);
      void this.offer(peerId, created).catch((error: unknown) => this.fail(peerId, created, error));
    }
    const pending = session;
    return new Promise<PeerChannel>((resolve, reject) => {
      const onAbort = () => {
        const reason = signal.reason instanceof Error ? signal.reason : new Error("connection timed out");
        this.fail(peerId, pending, reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      pending.waiters.push({
        resolve: (channel) => {
          signal.removeEventListener("abort", onAbort);
          resolve(channel);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
    });
  }

  /**
   * A signal relayed by the server from `from`. The server already kept out addresses the sender does not own;
   * checked again here: no loopback, link-local, multicast or host-name candidate ever reaches the ICE agent.
   */
  receive(from: string, signal: SignalData): void {
    if (this.isClosed || from === this.options.selfId) return;
    const data = filterSignal(signal, relayableOnly);
    if (!data) return;
    void this.handle(from, data).catch((error: unknown) => {
      const session = this.sessions.get(from);
      if (session) this.fail(from, session, error);
      else this.options.onError?.(error);
    });
  }

  close(): void {
    this.isClosed = true;
    for (const [peerId, session] of this.sessions) this.fail(peerId, session, new Error("transport closed"));
  }

  private async handle(from: string, data: SignalData): Promise<void> {
    switch (data.type) {
      case "offer": {
        const existing = this.sessions.get(from);
        if (existing?.initiator && !existing.channel) {
          // Both sides called at once: the smaller pseudonym's offer wins; the other side answers it.
          if (this.options.selfId < from) return;
          this.sessions.delete(from);
          existing.pc.close();
        } else if (existing) {
          // The other side started over (its end of our connection failed): the new connection replaces ours.
          this.fail(from, existing, new Error("replaced by a new connection"));
        }
        const session = this.open(from, false);
        if (existing?.initiator) session.waiters.push(...existing.waiters);
        session.pc.ondatachannel = (event) => this.wire(from, session, event.channel);
        await session.pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
        await this.remoteSet(session);
        const answer = await session.pc.createAnswer();
        await session.pc.setLocalDescription(answer);
        await this.options.signaler.send(from, {
          type: "answer",
          sdp: session.pc.localDescription?.sdp ?? "",
        });
        return;
      }
      case "answer": {
        const session = this.sessions.get(from);
        if (!session?.initiator || session.hasRemote) return;
        await session.pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
        await this.remoteSet(session);
        return;
      }
      case "candidate": {
        const session = this.sessions.get(from);
        if (!session || !data.candidate || data.candidate.candidate === "") return;
        const init: RTCIceCandidateInit = {
          candidate: data.candidate.candidate,
          sdpMid: data.candidate.sdpMid ?? "0",
          sdpMLineIndex: data.candidate.sdpMLineIndex ?? 0,
        };
        if (session.hasRemote) await session.pc.addIceCandidate(init);
        else if (session.candidates.length < 64) session.candidates.push(init);
        return;
      }
      case "bye": {
        const session = this.sessions.get(from);
        if (session) this.fail(from, session, new Error("peer said bye"));
        return;
      }
    }
  }

  private open(peerId: string, initiator: boolean): Session {
    const pc = new this.options.RTCPeerConnection({
      iceServers:
        typeof this.options.iceServers === "function"
          ? this.options.iceServers()
          : (this.options.iceServers ?? []),
      ...(this.options.iceTransportPolicy ? { iceTransportPolicy: this.options.iceTransportPolicy } : {}),
    });
    const session: Session = {
      pc,
      initiator,
      channel: undefined,
      hasRemote: false,
      candidates: [],
      waiters: [],
    };
    this.sessions.set(peerId, session);
    pc.onicecandidate = (event) => {
      if (!event.candidate?.candidate) return;
      const line = event.candidate.candidate.replace(/^a=/, "");
      void this.options.signaler
        .send(peerId, {
          type: "candidate",
          candidate: {
            candidate: line,
            sdpMid: event.candidate.sdpMid ?? null,
            sdpMLineIndex: event.candidate.sdpMLineIndex ?? null,
          },
        })
        .catch((error: unknown) => this.options.onError?.(error));
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed")
        this.fail(peerId, session, new Error(`connection ${pc.connectionState}`));
    };
    return session;
  }

  private async offer(peerId: string, session: Session): Promise<void> {
    const offer = await session.pc.createOffer();
    await session.pc.setLocalDescription(offer);
    await this.options.signaler.send(peerId, { type: "offer", sdp: session.pc.localDescription?.sdp ?? "" });
  }

  private async remoteSet(session: Session): Promise<void> {
    session.hasRemote = true;
    for (const candidate of session.candidates.splice(0)) await session.pc.addIceCandidate(candidate);
  }

  private wire(peerId: string, session: Session, dataChannel: RTCDataChannel): void {
    dataChannel.binaryType = "arraybuffer";
    dataChannel.onopen = () => {
      if (this.sessions.get(peerId) !== session) return dataChannel.close();
      const channel = new RtcChannel(dataChannel, () => this.forget(peerId, session));
      session.channel = channel;
      const waiters = session.waiters.splice(0);
      if (!session.initiator) this.incoming(peerId, channel);
      for (const waiter of waiters) waiter.resolve(channel);
    };
  }

  private forget(peerId: string, session: Session): void {
    if (this.sessions.get(peerId) === session) this.sessions.delete(peerId);
    session.pc.close();
  }

  private fail(peerId: string, session: Session, error: unknown): void {
    const reason = error instanceof Error ? error : new Error(String(error));
    for (const waiter of session.waiters.splice(0)) waiter.reject(reason);
    if (session.channel) session.channel.closed();
    if (this.sessions.get(peerId) === session) this.sessions.delete(peerId);
    session.pc.close();
  }
}
