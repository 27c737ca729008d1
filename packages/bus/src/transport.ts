// The transport seam: what a bus needs from a message system. In-process now; NATS implements the same shape.
import type { BusFrame } from "./codec";

export interface MessageHeaders {
  caller: string;
  traceId: string;
  userId?: string;
  role?: string;
  sessionId?: string;
  peerId?: string;
}

export interface TransportMessage {
  subject: string;
  data: BusFrame;
  headers: MessageHeaders;
}

/** Returns the reply for request subjects; the value is ignored for published events. */
export type TransportHandler = (message: TransportMessage) => Promise<BusFrame | undefined>;

export interface TransportSubscription {
  unsubscribe(): Promise<void>;
}

export interface Transport {
  /**
   * True when both ends are in this process (the in-process transport): the bus then hands a checked message over as
   * it is (`BusFrame.checked`) and the receiving end trusts the sending end's check. Network transports leave it
   * unset, and every message crossing a process boundary is encoded, decoded and checked on arrival.
   */
  readonly carriesCheckedValues?: boolean;
  /** Sends to one member of one queue group; rejects with TransportNoResponders or TransportTimeout. */
  request(subject: string, data: BusFrame, headers: MessageHeaders, timeoutMs: number): Promise<BusFrame>;
  publish(subject: string, data: BusFrame, headers: MessageHeaders): Promise<void>;
  subscribe(
    subject: string,
    handler: TransportHandler,
    options: { queue?: string },
  ): Promise<TransportSubscription>;
  close(): Promise<void>;
}

export class TransportNoResponders extends Error {
  constructor(subject: string) {
    super(`no service answers on ${subject}`);
    this.name = "TransportNoResponders";
  }
}

export class TransportTimeout extends Error {
  constructor(subject: string, timeoutMs: number) {
    super(`no reply on ${subject} within ${timeoutMs} ms`);
    this.name = "TransportTimeout";
  }
}

/** A network transport could not carry the message: not connected, the connection dropped, or it is closed. */
export class TransportUnavailable extends Error {
  constructor(subject: string, reason: string, cause?: unknown) {
    super(`${subject}: ${reason}`, { cause });
    this.name = "TransportUnavailable";
  }
}

/** The broker refused the message: the sender's permissions (generated from its manifest) do not cover it. */
export class TransportForbidden extends Error {
  constructor(readonly subject: string) {
    super(`the broker refused to carry ${subject} (not in the sender's permissions)`);
    this.name = "TransportForbidden";
  }
}

export const requestSubject = (service: string, method: string): string => `svc.${service}.${method}`;
/** One process of a service, addressed by its instance id (a storage node on the ring), outside the queue group. */
export const instanceSubject = (service: string, method: string, instance: string): string =>
  `svc.${service}.${method}.${instance}`;

const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Whether `instance` can be one token of a subject: letters, digits, _ or -, at most 64. */
export const isInstanceId = (instance: string): boolean => INSTANCE_ID.test(instance);
export const eventSubject = (topic: string): string => `evt.${topic}`;
