// `soundmesh service <name>`: one service (or the access point) as its own process on NATS and PostgreSQL, until
// SIGINT or SIGTERM; with --instances N, N such processes, each with its own id. Loaded only when the command runs.
import { spawn, type ChildProcess } from "node:child_process";
import { AppError } from "@soundmesh/protocol";
import { checkServiceName } from "../cluster/cluster-services";
import { startServiceProcess } from "../cluster/service-process";
import { createLogger } from "../logger";
import { configFrom, type GlobalOptions, type LibraryOptions } from "./config-from";
import { raiseOpenFileLimit } from "./file-limit";

export interface ServiceCommandOptions extends GlobalOptions, LibraryOptions {
  instances?: string;
  node?: string;
  nats?: string[];
  keys?: string;
}

/** The line a started process prints on stdout (`soundmesh cluster` waits for it). */
export const readyLine = (service: string, node: string, url?: string) =>
  `ready ${service} ${node}${url === undefined ? "" : ` ${url}`}\n`;

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
}

function configOf(options: ServiceCommandOptions) {
  const overrides: Record<string, unknown> = {};
  if (options.nats?.length) overrides.servers = options.nats;
  if (options.keys) overrides.keysDir = options.keys;
  return configFrom(options, Object.keys(overrides).length > 0 ? { nats: overrides } : {});
}

/** The flags of one child of --instances: these options, its own id, and its own port when one is given. */
export function instanceArgs(name: string, options: ServiceCommandOptions, index: number): string[] {
  const args = ["service", name, "--node", `${options.node ?? name}-${index}`];
  const flag = (key: string, value: string | undefined) => (value === undefined ? [] : [key, value]);
  args.push(...flag("--config", options.config), ...flag("--data-dir", options.dataDir));
  args.push(...flag("--database-url", options.databaseUrl), ...flag("--host", options.host));
  args.push(
    ...flag("--port", options.port === undefined ? undefined : String(Number(options.port) + index - 1)),
  );
  args.push(...flag("--keys", options.keys));
  if (options.nats?.length) args.push("--nats", ...options.nats);
  if (options.library?.length) args.push("--library", ...options.library);
  if (options.addLibrary) args.push("--add-library");
  if (options.replaceLibrary) args.push("--replace-library");
  return args;
}

/** --instances N: N child processes of this command, each with its own id; stopped together. */
async function runInstances(name: string, count: number, options: ServiceCommandOptions): Promise<void> {
  const children: ChildProcess[] = [];
  for (let index = 1; index <= count; index += 1) {
    const args = [...process.execArgv, process.argv[1]!, ...instanceArgs(name, options, index)];
    children.push(spawn(process.execPath, args, { stdio: "inherit" }));
  }
  const exited = children.map((child) => new Promise<void>((resolve) => child.once("exit", () => resolve())));
  await Promise.race([waitForSignal(), Promise.all(exited)]);
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await Promise.all(exited);
}

export async function runService(name: string, options: ServiceCommandOptions): Promise<void> {
  const service = checkServiceName(name);
  const count = options.instances === undefined ? 1 : Number(options.instances);
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new AppError(
      "VALIDATION_FAILED",
      `--instances is a whole number from 1 to 64, not ${options.instances}`,
    );
  }
  if (count > 1) return runInstances(service, count, options);
  const config = configOf(options);
  const logger = createLogger(config.logLevel);
  raiseOpenFileLimit({ logger });
  const running = await startServiceProcess(config, logger, {
    service,
    ...(options.node === undefined ? {} : { nodeId: options.node }),
    library: { add: options.addLibrary === true, replace: options.replaceLibrary === true },
  });
  process.stdout.write(readyLine(running.service, running.nodeId, running.url));
  const signal = await waitForSignal();
  logger.info({ signal }, "shutting down");
  await running.stop();
}
