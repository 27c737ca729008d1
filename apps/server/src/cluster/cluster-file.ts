// cluster.json: what `soundmesh cluster` starts on this machine. Validated by one zod schema; a bad file stops the
// start with a typed error listing every bad key.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { AppError, issueDetails } from "@soundmesh/protocol";
import { clusterServices, type ClusterService } from "./cluster-services";
import { defaultRestartPolicy, restartPolicySchema } from "./supervisor";

/** Services whose state lives in one process (memory, folder watches, event files): at most one of each. */
const singleProcessServices: readonly ClusterService[] = [
  "catalog",
  "tracker",
  "topology",
  "events",
  "recommend",
];

const processCount = (service: ClusterService) =>
  z
    .number()
    .int()
    .min(1)
    .max(singleProcessServices.includes(service) ? 1 : 16, {
      message: singleProcessServices.includes(service)
        ? `${service} runs as one process (its state is that process's)`
        : "at most 16 processes",
    });

export const clusterFileSchema = z
  .object({
    /** PostgreSQL for every service with SQL state. */
    database: z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// URL"),
    /** Where the processes keep their files (NATS config and keys, storage nodes' caches, logs). */
    dataDir: z.string().min(1).optional(),
    /** nats-servers started on loopback: one, or a 3-node JetStream cluster. */
    nats: z
      .object({ nodes: z.union([z.literal(1), z.literal(3)], { message: "1 or 3" }) })
      .strict()
      .default({ nodes: 1 }),
    /** Processes per service; a service not named runs one. */
    services: z
      .object(
        Object.fromEntries(
          clusterServices.map((service) => [service, processCount(service).optional()]),
        ) as Record<ClusterService, z.ZodOptional<z.ZodNumber>>,
      )
      .strict()
      .default({}),
    /** The access points' HTTP ports, in order (0 or absent: any free port). */
    accessPointPorts: z.array(z.number().int().min(0).max(65535)).max(16).optional(),
    /** The catalog's music folders (first run: recorded; later: as `serve --library`). */
    library: z.array(z.string().min(1)).max(64).optional(),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
    /** How a process that dies is started again (back-off, when to give up). */
    restart: restartPolicySchema.default(defaultRestartPolicy),
  })
  .strict();

export type ClusterFile = z.infer<typeof clusterFileSchema>;

/** How many processes of `service` the file asks for. */
export const processesOf = (file: ClusterFile, service: ClusterService): number =>
  file.services[service] ?? 1;

export function parseClusterFile(text: string, name = "cluster.json"): ClusterFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AppError("VALIDATION_FAILED", `${name} is not JSON: ${(error as Error).message}`);
  }
  const parsed = clusterFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new AppError("VALIDATION_FAILED", `${name} is not a valid cluster file`, {
      details: issueDetails(parsed.error),
    });
  }
  return parsed.data;
}

export function readClusterFile(file: string): ClusterFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new AppError(
      "NOT_FOUND",
      `cannot read the cluster file ${file} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  return parseClusterFile(text, file);
}
