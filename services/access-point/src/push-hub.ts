// Server push: bus events become `push` frames for the sockets subscribed to the topics they map to.
import type { z } from "zod";
import { AppError, type EventContract } from "@soundmesh/protocol";
import type { ServiceBus, Subscription } from "@soundmesh/bus";
import type { Identity } from "./auth";

export interface PushTopic<E extends EventContract = EventContract> {
  /** Which client topic names this source serves, e.g. /^catalog\.scanProgress$/ or /^playlist:[\w-]+$/. */
  pattern: RegExp;
  event: E;
  /** Throws an AppError (FORBIDDEN, NOT_FOUND) when this identity may not follow the topic. */
  authorize(identity: Identity, topic: string): Promise<void> | void;
  /** The client topics one event is pushed to. */
  route(payload: z.output<E["payload"]>): string[];
  /** Whether one follower still gets this event (access can end after subscribing); all do when absent. */
  accepts?(identity: Identity, payload: z.output<E["payload"]>): boolean;
}

export interface PushTarget {
  readonly identity: Identity;
  send(topic: string, data: unknown): void;
}

export class PushHub {
  private readonly followers = new Map<string, Set<PushTarget>>();
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: ServiceBus,
    private readonly topics: readonly PushTopic[],
  ) {}

  async start(): Promise<void> {
    this.subscriptions = await Promise.all(
      this.topics.map((topic) =>
        this.bus.subscribe(topic.event, (payload) => {
          for (const name of topic.route(payload)) {
            for (const target of this.followers.get(name) ?? [])
              if (topic.accepts?.(target.identity, payload) ?? true) target.send(name, payload);
          }
        }),
      ),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.unsubscribe()));
    this.subscriptions = [];
    this.followers.clear();
  }

  async follow(target: PushTarget, identity: Identity, name: string): Promise<void> {
    const topic = this.topics.find((t) => t.pattern.test(name));
    if (!topic) throw new AppError("NOT_FOUND", `No topic ${name}`);
    await topic.authorize(identity, name);
    const set = this.followers.get(name) ?? new Set();
    set.add(target);
    this.followers.set(name, set);
  }

  unfollow(target: PushTarget, name: string): void {
    const set = this.followers.get(name);
    set?.delete(target);
    if (set?.size === 0) this.followers.delete(name);
  }

  unfollowAll(target: PushTarget): void {
    for (const name of [...this.followers.keys()]) this.unfollow(target, name);
  }
}
