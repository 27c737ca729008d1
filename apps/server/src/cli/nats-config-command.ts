// `soundmesh nats-config`: writes the nats-server configuration whose users are the services, each with the
// permissions its manifest declares (see packages/bus/src/nats-config.ts), and each service's NKey seed in a folder
// of its own (kept across runs, so regenerating after a manifest change does not change any key).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";

export interface NatsConfigOptions {
  out: string;
  keys: string;
  listen?: string;
  jetstream?: string;
}

/** Writes the server config and any missing service keys; returns the services and which keys were new. */
export async function writeNatsConfig(
  options: NatsConfigOptions,
): Promise<{ services: string[]; created: string[] }> {
  const [{ serviceManifests }, bus, events] = await Promise.all([
    import("../topology-declarations"),
    import("@soundmesh/bus/nats"),
    import("@soundmesh/service-events/jetstream"),
  ]);
  const keysDir = resolve(options.keys);
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const keys = serviceManifests.map(({ service }) => {
    const file = join(keysDir, `${service}.nk`);
    if (existsSync(file)) return bus.serviceKeyFromSeed(service, readFileSync(file, "utf8"));
    const key = bus.createServiceKey(service);
    writeFileSync(file, `${key.seed}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    created.push(service);
    return key;
  });
  const config = bus.renderNatsServerConfig({
    manifests: serviceManifests,
    keys,
    kvBuckets: [
      { bucket: bus.storageRingBucket, writers: ["storage"], readers: ["storage", "access-point"] },
      // Each access point's address, for the others to tell their clients (ring-wiring.ts).
      { bucket: bus.accessPointsBucket, writers: ["access-point"], readers: [] },
      // The cluster event log's closed hours (services/events/src/jetstream-log.ts).
      { bucket: events.closedBucketsKv, writers: ["events"], readers: [] },
    ],
    streams: [
      { stream: events.eventStreamName, subjects: `${events.eventSubjectPrefix}.>`, users: ["events"] },
    ],
    ...(options.listen === undefined ? {} : { listen: options.listen }),
    ...(options.jetstream === undefined ? {} : { jetStreamDir: resolve(options.jetstream) }),
  });
  const out = resolve(options.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, config, { mode: 0o600 });
  return { services: serviceManifests.map(({ service }) => service), created };
}

export function addNatsConfigCommand(program: Command): void {
  program
    .command("nats-config")
    .description(
      "write the nats-server config for cluster mode: a user per service with its manifest's permissions",
    )
    .requiredOption("-o, --out <file>", "the nats-server config file to write")
    .requiredOption(
      "-k, --keys <dir>",
      "folder of the services' NKey seeds (<service>.nk), created or reused",
    )
    .option("--listen <host:port>", "where nats-server listens (default: its own, or the command line's)")
    .option("--jetstream <dir>", "enable JetStream with this store folder (the storage ring needs it)")
    .action(async (options: NatsConfigOptions) => {
      const { services, created } = await writeNatsConfig(options);
      process.stdout.write(
        `wrote ${resolve(options.out)}: ${services.length} service users (${services.join(", ")})\n` +
          (created.length > 0 ? `new keys in ${resolve(options.keys)}: ${created.join(", ")}\n` : ""),
      );
    });
}
