// In-memory peers for engine tests: channel pairs that deliver asynchronously, and a network of transports by pseudonym.
import { BufferedChannelEvents, type PeerChannel, type PeerTransport } from "@soundmesh/engine";

export class FakeChannel implements PeerChannel {
  readonly events = new BufferedChannelEvents();
  other: FakeChannel | undefined;
  readonly sent: Uint8Array[] = [];
  bufferedAmount = 0;

  send(bytes: Uint8Array): void {
    if (this.events.isClosed) throw new Error("channel closed");
    this.sent.push(bytes);
    const copy = bytes.slice();
    setTimeout(() => this.other?.events.message(copy), 0);
  }

  close(): void {
    this.events.close();
    setTimeout(() => this.other?.events.close(), 0);
  }

  listen(onMessage: (bytes: Uint8Array) => void, onClose: () => void): void {
    this.events.listen(onMessage, onClose);
  }
}

export function channelPair(): [FakeChannel, FakeChannel] {
  const a = new FakeChannel();
  const b = new FakeChannel();
  a.other = b;
  b.other = a;
  return [a, b];
}

export class FakeNetwork {
  private readonly incoming = new Map<string, (peerId: string, channel: PeerChannel) => void>();
  readonly connections: Array<[string, string]> = [];

  transport(selfId: string): PeerTransport {
    return {
      connect: (peerId: string, signal: AbortSignal) => {
        const accept = this.incoming.get(peerId);
        if (!accept || signal.aborted) return Promise.reject(new Error(`no route to ${peerId}`));
        const [mine, theirs] = channelPair();
        this.connections.push([selfId, peerId]);
        accept(selfId, theirs);
        return Promise.resolve(mine);
      },
      onIncoming: (handler) => void this.incoming.set(selfId, handler),
      close: () => void this.incoming.delete(selfId),
    };
  }
}
