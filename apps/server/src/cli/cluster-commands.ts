// `soundmesh service` and `soundmesh cluster`: cluster mode's commands (each loads its module when it runs).
import type { Command } from "commander";
import type { GlobalOptions } from "./config-from";
import type { ServiceCommandOptions } from "./service-command";

export function addClusterCommands(program: Command): void {
  program
    .command("service <name>")
    .description(
      "cluster mode: run one service (access-point, user, catalog, search, storage, playlist, tracker, topology, " +
        "events, recommend) as its own process on NATS and PostgreSQL",
    )
    .option("-n, --instances <count>", "run this many processes of it, each with its own id (default 1)")
    .option("--node <id>", "this process's id (a storage node's place on the ring); default host and pid")
    .option("--nats <url...>", "NATS servers (also SOUNDMESH_NATS_URL, comma-separated)")
    .option("--keys <dir>", "folder of the services' NKey seeds from nats-config (also SOUNDMESH_NATS_KEYS)")
    .option(
      "-p, --port <port>",
      "the access point's HTTP port (with --instances: the first of consecutive ports)",
    )
    .option("--host <host>", "the access point's address (default 127.0.0.1)")
    .option("-l, --library <dir...>", "the catalog's music folders (as for serve)")
    .option("--add-library", "add the --library folders to the recorded ones")
    .option("--replace-library", "make the --library folders the only library folders")
    .action(async (name: string, options: ServiceCommandOptions, command: Command) => {
      const { runService } = await import("./service-command");
      await runService(name, { ...command.optsWithGlobals<GlobalOptions>(), ...options });
    });
  program
    .command("cluster")
    .description(
      "start a local cluster from a JSON file: nats-server (one or a 3-node JetStream cluster), every service's " +
        "processes; prints where the access points listen; Ctrl-C stops all",
    )
    .requiredOption("-f, --file <cluster.json>", "how many of each service, NATS nodes, PostgreSQL URL")
    .action(async (options: { file: string }, command: Command) => {
      const { runCluster } = await import("./cluster-command");
      await runCluster(options.file, command.optsWithGlobals<GlobalOptions>());
    });
}
