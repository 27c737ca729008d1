// In-process transport for the all-in-one mode: the same subjects and queue-group semantics as NATS, in memory;
// frames pass by reference, so bytes are never copied.
import type { BusFrame } from "./codec";
import {
  TransportNoResponders,
  TransportTimeout,
  type MessageHeaders,
  type Transport,
  type TransportHandler,
  type TransportSubscription,
} from "./transport";

interface Subscriber {
  handler: TransportHandler;
  queue: string | undefined;
}

/** Picks members of each queue group in turn, as NATS spreads a group's messages. */
class SubjectSubscribers {
  readonly plain = new Set<Subscriber>();
  readonly groups = new Map<string, { members: Subscriber[]; next: number }>();

  add(subscriber: Subscriber): void {
    if (subscriber.queue === undefined) {
      this.plain.add(subscriber);
      return;
    }
    const group = this.groups.get(subscriber.queue) ?? { members: [], next: 0 };
    group.members.push(subscriber);
    this.groups.set(subscriber.queue, group);
  }

  remove(subscriber: Subscriber): void {
    this.plain.delete(subscriber);
    if (subscriber.queue === undefined) return;
    const group = this.groups.get(subscriber.queue);
    if (!group) return;
    group.members = group.members.filter((member) => member !== subscriber);
    if (group.members.length === 0) this.groups.delete(subscriber.queue);
  }

  /** One receiver per queue group plus every plain subscriber. */
  receivers(): Subscriber[] {
    const chosen = [...this.plain];
    for (const group of this.groups.values()) {
      const member = group.members[group.next % group.members.length];
      group.next = (group.next + 1) % group.members.length;
      if (member) chosen.push(member);
    }
    return chosen;
  }

  get isEmpty(): boolean {
    return this.plain.size === 0 && this.groups.size === 0;
  }
}

export function createInProcessTransport(): Transport {
  const subjects = new Map<string, SubjectSubscribers>();
  let closed = false;

  const deliver = (handler: TransportHandler, subject: string, data: BusFrame, headers: MessageHeaders) =>
    // A macrotask boundary keeps callers and handlers from running inside each other's stack, as over a network.
    new Promise<BusFrame | undefined>((resolve, reject) => {
      setImmediate(() => {
        handler({ subject, data, headers }).then(resolve, reject);
      });
    });

  return {
    carriesCheckedValues: true,

    async request(subject, data, headers, timeoutMs) {
      if (closed) throw new TransportNoResponders(subject);
      const receivers = subjects.get(subject)?.receivers() ?? [];
      const receiver = receivers[0];
      if (!receiver) throw new TransportNoResponders(subject);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TransportTimeout(subject, timeoutMs)), timeoutMs);
      });
      try {
        const reply = await Promise.race([deliver(receiver.handler, subject, data, headers), timeout]);
        if (reply === undefined) throw new TransportNoResponders(subject);
        return reply;
      } finally {
        clearTimeout(timer);
      }
    },

    async publish(subject, data, headers) {
      if (closed) return;
      for (const receiver of subjects.get(subject)?.receivers() ?? []) {
        // Event delivery is fire-and-forget, as in NATS core; handlers log their own failures.
        deliver(receiver.handler, subject, data, headers).catch(() => undefined);
      }
      return Promise.resolve();
    },

    subscribe(subject, handler, options): Promise<TransportSubscription> {
      const subscriber: Subscriber = { handler, queue: options.queue };
      const entry = subjects.get(subject) ?? new SubjectSubscribers();
      entry.add(subscriber);
      subjects.set(subject, entry);
      return Promise.resolve({
        unsubscribe() {
          entry.remove(subscriber);
          if (entry.isEmpty && subjects.get(subject) === entry) subjects.delete(subject);
          return Promise.resolve();
        },
      });
    },

    close() {
      closed = true;
      subjects.clear();
      return Promise.resolve();
    },
  };
}
