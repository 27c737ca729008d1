// The broker's half of the manifests: a NATS user per service (an NKey) whose publish/subscribe permissions are
// exactly its manifest's edges and topics, so a process can only call what its manifest declares even if its code
// is changed. Replies travel on each service's own inbox prefix (`_INBOX.<service>.>`) and through allow_responses.
import { nkeys } from "@nats-io/transport-node";
import { eventSubject } from "./transport";
import type { ServiceManifest } from "./types";

/** A JetStream key-value bucket some services write (heartbeats) and others only read (watch, get). */
export interface KvBucketGrant {
  bucket: string;
  writers: readonly string[];
  readers: readonly string[];
}

/** A JetStream stream some services publish to and read back with consumers of their own (e.g. the event log). */
export interface StreamGrant {
  stream: string;
  /** The subjects the stream captures, which its users publish on (e.g. "soundmesh.events.>"). */
  subjects: string;
  users: readonly string[];
}

export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  allow_responses: { max: number; expires: string };
}

export interface NatsAuthorizationOptions {
  /** Topics every process publishes besides its manifest's (its topology report). */
  everyonePublishes?: readonly string[];
  kvBuckets?: readonly KvBucketGrant[];
  streams?: readonly StreamGrant[];
}

/** The topic each process's topology reporter publishes on, whatever its service. */
export const infrastructureTopics = ["topology.report"] as const;

export const inboxPrefixOf = (service: string): string => `_INBOX.${service}`;

const serviceSubjects = (service: string): string => `svc.${service}.>`;

/** The subjects one KV bucket needs (nats.js 3 over nats-server 2.9+): writers put; readers get and watch. */
function kvSubjects(bucket: string, writer: boolean): string[] {
  const stream = `KV_${bucket}`;
  const read = [
    "$JS.API.INFO",
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
  return writer ? [...read, `$JS.API.STREAM.CREATE.${stream}`, `$KV.${bucket}.>`] : read;
}

/** The subjects a stream's user needs: create or update it, read its state, and pull with its own consumers. */
function streamSubjects(stream: string): string[] {
  return [
    "$JS.API.INFO",
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.UPDATE.${stream}`,
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/** One service's permissions: its own subjects, its callees', its topics, its inbox, its KV buckets. */
export function servicePermissions(
  manifest: ServiceManifest,
  options: NatsAuthorizationOptions = {},
): NatsPermissions {
  const { service } = manifest;
  const publish = new Set<string>();
  const subscribe = new Set<string>([serviceSubjects(service), `${inboxPrefixOf(service)}.>`]);
  // A service may call itself (another process of it), as the in-process bus allows.
  for (const callee of [service, ...manifest.calls]) publish.add(serviceSubjects(callee));
  for (const topic of [
    ...(manifest.publishes ?? []),
    ...(options.everyonePublishes ?? infrastructureTopics),
  ]) {
    publish.add(eventSubject(topic));
  }
  for (const topic of manifest.subscribes ?? []) subscribe.add(eventSubject(topic));
  for (const grant of options.kvBuckets ?? []) {
    const writer = grant.writers.includes(service);
    if (!writer && !grant.readers.includes(service)) continue;
    for (const subject of kvSubjects(grant.bucket, writer)) publish.add(subject);
  }
  for (const grant of options.streams ?? []) {
    if (!grant.users.includes(service)) continue;
    for (const subject of [...streamSubjects(grant.stream), grant.subjects]) publish.add(subject);
  }
  return {
    publish: { allow: [...publish].sort() },
    subscribe: { allow: [...subscribe].sort() },
    // A callee answers each request once, within the requester's longest timeout.
    allow_responses: { max: 1, expires: "2m" },
  };
}

export interface ServiceKey {
  service: string;
  /** The public key the server config holds ("U..."). */
  publicKey: string;
  /** The secret the service's processes connect with ("SU..."); never written into the server config. */
  seed: string;
}

/** A fresh NKey user for a service. */
export function createServiceKey(service: string): ServiceKey {
  const pair = nkeys.createUser();
  return { service, publicKey: pair.getPublicKey(), seed: new TextDecoder().decode(pair.getSeed()) };
}

/** The public key of a seed; throws for text that is not a user seed. */
export function serviceKeyFromSeed(service: string, seed: string): ServiceKey {
  const pair = nkeys.fromSeed(new TextEncoder().encode(seed.trim()));
  const publicKey = pair.getPublicKey();
  if (!publicKey.startsWith("U")) throw new Error(`the seed of ${service} is not a user key`);
  return { service, publicKey, seed: seed.trim() };
}

export interface NatsServerConfigOptions extends NatsAuthorizationOptions {
  manifests: readonly ServiceManifest[];
  keys: readonly ServiceKey[];
  /** host:port to listen on; left to the command line when absent. */
  listen?: string;
  /** Enables JetStream with this store directory. */
  jetStreamDir?: string;
}

/** The authorization block as a value: one user per manifest. Throws when a manifest has no key. */
export function natsAuthorization(options: NatsServerConfigOptions): {
  users: Array<{ nkey: string; permissions: NatsPermissions }>;
} {
  const keys = new Map(options.keys.map((key) => [key.service, key] as const));
  return {
    users: options.manifests.map((manifest) => {
      const key = keys.get(manifest.service);
      if (!key) throw new Error(`no NKey for the service ${manifest.service}`);
      return { nkey: key.publicKey, permissions: servicePermissions(manifest, options) };
    }),
  };
}

/** The nats-server configuration file: JSON values, which the NATS config format accepts as they are. */
export function renderNatsServerConfig(options: NatsServerConfigOptions): string {
  const lines = [
    "# Generated by `soundmesh nats-config` from the service manifests: do not edit, run it again.",
    "# Each service connects with its own NKey; its permissions are exactly its manifest's edges and topics.",
  ];
  if (options.listen !== undefined) lines.push(`listen: ${JSON.stringify(options.listen)}`);
  if (options.jetStreamDir !== undefined) {
    lines.push(`jetstream: ${JSON.stringify({ store_dir: options.jetStreamDir })}`);
  }
  lines.push(`authorization: ${JSON.stringify(natsAuthorization(options), null, 2)}`);
  return `${lines.join("\n")}\n`;
}
