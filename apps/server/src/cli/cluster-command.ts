// `soundmesh cluster --file cluster.json`: a local cluster until Ctrl-C. Loaded only when this command runs.
import { dirname, join, resolve } from "node:path";
import { readClusterFile } from "../cluster/cluster-file";
import { startLocalCluster } from "../cluster/local-cluster";
import { configFrom, type GlobalOptions } from "./config-from";

export async function runCluster(file: string, options: GlobalOptions): Promise<void> {
  const cluster = readClusterFile(file);
  // A relative dataDir is the file's neighbour; without one, a folder in the configured data dir.
  const dataDir = cluster.dataDir
    ? resolve(dirname(resolve(file)), cluster.dataDir)
    : join(configFrom(options).dataDir, "cluster");
  if (cluster.logLevel) process.env.SOUNDMESH_LOG_LEVEL = cluster.logLevel;
  const startedMs = performance.now();
  const running = await startLocalCluster(cluster, {
    dataDir,
    command: { execPath: process.execPath, args: [...process.execArgv, process.argv[1]!] },
    globalArgs: options.config ? ["--config", resolve(options.config)] : [],
    restart: cluster.restart,
    say: (line) => process.stderr.write(`${line}\n`),
  });
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
  const lines = [
    ...running.nats.map((node) => `nats: ${node.url} (${node.name})`),
    ...running.processes.map((p) => `${p.node}: pid ${p.pid}${p.url ? ` ${p.url}` : ""}`),
    ...running.accessPoints.map((url) => `access point: ${url}`),
    `cluster ready in ${seconds} s (${running.processes.length} processes; logs in ${dataDir}/logs); Ctrl-C stops it`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  await new Promise<void>((resolveSignal) => {
    process.once("SIGINT", () => resolveSignal());
    process.once("SIGTERM", () => resolveSignal());
  });
  process.stdout.write("stopping the cluster\n");
  await running.stop();
}
