// What the overlay needs from a WebRTC stack: an open, ordered, binary channel to a pseudonym. Browsers and
// Node (node-datachannel) implement it with RTCPeerConnection; tests use in-memory pairs.

export interface PeerChannel {
  send(bytes: Uint8Array): void;
  close(): void;
  /** Bytes queued but not yet on the wire: uploads wait while it is high. */
  readonly bufferedAmount: number;
  /** Sets the handlers; messages that arrived earlier are delivered now, in order. */
  listen(onMessage: (bytes: Uint8Array) => void, onClose: () => void): void;
}

export interface PeerTransport {
  /** Opens a channel to a pseudonym through signaling; rejects when it cannot within its deadline. */
  connect(peerId: string, signal: AbortSignal): Promise<PeerChannel>;
  /** Channels other peers opened to this one. */
  onIncoming(handler: (peerId: string, channel: PeerChannel) => void): void;
  close(): void;
}

/** A channel that keeps what arrives before anyone listens, and reports its close once. */
export class BufferedChannelEvents {
  private early: Uint8Array[] = [];
  private closed = false;
  private onMessage: ((bytes: Uint8Array) => void) | undefined;
  private onClose: (() => void) | undefined;

  listen(onMessage: (bytes: Uint8Array) => void, onClose: () => void): void {
    this.onMessage = onMessage;
    this.onClose = onClose;
    const early = this.early;
    this.early = [];
    for (const bytes of early) onMessage(bytes);
    if (this.closed) onClose();
  }

  message(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.onMessage) this.onMessage(bytes);
    else if (this.early.length < 256) this.early.push(bytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
