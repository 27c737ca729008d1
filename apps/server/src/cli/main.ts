// The `soundmesh` command line: serve (all-in-one), user administration, scans; --help on every command.
// Only commander loads up front; each command imports its own module when it runs, so `--help` loads nothing more
// and `user list` loads the database and the user service, never the HTTP server, media tools or the web player.
import { Command, CommanderError, Option } from "commander";
import type { GlobalOptions, LibraryOptions } from "./config-from";
import { addClusterCommands } from "./cluster-commands";
import { addNatsConfigCommand } from "./nats-config-command";
import { addJobsCommand } from "./jobs-command";
import { addPeerCommand } from "./peer-command";
import { addRadioCommand } from "./radio-command";
import { addTopologyCommand } from "./topology-command";
import { addTranscodeCommand } from "./transcode-command";

/** Commands that keep running and check many messages; the others check few and exit (see one-shot.ts). */
const longRunningCommands = new Set(["serve", "peer"]);

/** The command under `soundmesh` that `command` is, or is a subcommand of. */
function topLevelCommandOf(command: Command): Command {
  let top = command;
  while (top.parent?.parent) top = top.parent;
  return top;
}

export function buildProgram(): Command {
  const program = new Command("soundmesh")
    .description("A self-hostable music streaming service")
    .option("-c, --config <file>", "JSON configuration file (also SOUNDMESH_CONFIG)")
    .option("-d, --data-dir <dir>", "where the database, caches and settings live (also SOUNDMESH_DATA_DIR)")
    .option("--database-url <url>", "PostgreSQL URL; without it an SQLite file in the data dir is used")
    .showHelpAfterError()
    .exitOverride()
    .hook("preAction", async (_program, action) => {
      if (!longRunningCommands.has(topLevelCommandOf(action).name())) await import("./one-shot");
    });

  program
    .command("serve")
    .description("start the all-in-one server: every service in one process on the in-process bus")
    .option("-p, --port <port>", "HTTP port (default 7700; also SOUNDMESH_PORT)")
    .option("--host <host>", "address to listen on (default 127.0.0.1; also SOUNDMESH_HOST)")
    .option(
      "-l, --library <dir...>",
      "music folders (also SOUNDMESH_LIBRARY); without one the recorded folders (first run: a demo library)",
    )
    .option("--add-library", "add the --library folders to the recorded ones")
    .option("--replace-library", "make the --library folders the only library folders")
    .action(async (options: GlobalOptions & LibraryOptions, command: Command) => {
      const { serve } = await import("./serve-command");
      await serve({ ...command.optsWithGlobals<GlobalOptions>(), ...options });
    });

  program
    .command("scan")
    .description("scan the library folders now, with a progress bar (re-reads only changed files)")
    .option(
      "-l, --library <dir...>",
      "music folders (also SOUNDMESH_LIBRARY); without one the recorded folders",
    )
    .option("--add-library", "add the --library folders to the recorded ones")
    .option("--replace-library", "make the --library folders the only library folders")
    .option("--full", "re-read every file, not only changed ones")
    .option(
      "--allow-mass-removal",
      "go ahead although the scan removes more than a quarter of a folder's tracks (or finds a folder empty)",
    )
    .action(async (options: GlobalOptions & LibraryOptions & { full?: boolean }, command: Command) => {
      const { scan } = await import("./scan-command");
      await scan({ ...command.optsWithGlobals<GlobalOptions>(), ...options });
    });

  const user = program
    .command("user")
    .description(
      "manage accounts (on the database directly; a running server closes affected sockets at once)",
    );
  user
    .command("add <name>")
    .description("create an account (the first one made while none exists is an admin)")
    .option("--admin", "give the account the admin role")
    .option("--password-stdin", "read the password from standard input")
    .action(async (name: string, options: { admin?: boolean; passwordStdin?: boolean }, command: Command) => {
      const { addUser } = await import("./user-command");
      await addUser(name, options, command.optsWithGlobals<GlobalOptions>());
    });
  user
    .command("list")
    .description("list accounts")
    .action(async (_options: unknown, command: Command) => {
      const { listUsers } = await import("./user-command");
      await listUsers(command.optsWithGlobals<GlobalOptions>());
    });
  user
    .command("passwd <name>")
    .description("set a new password for an account (ends its sessions and API tokens)")
    .option("--password-stdin", "read the password from standard input")
    .action(async (name: string, options: { passwordStdin?: boolean }, command: Command) => {
      const { changePassword } = await import("./user-command");
      await changePassword(name, options, command.optsWithGlobals<GlobalOptions>());
    });
  user
    .command("subsonic-password <name>")
    .description(
      "set the password Subsonic apps (phone, desktop) sign in with, apart from the login password",
    )
    .option("--password-stdin", "read the password from standard input")
    .action(async (name: string, options: { passwordStdin?: boolean }, command: Command) => {
      const { setSubsonicPassword } = await import("./user-command");
      await setSubsonicPassword(name, options, command.optsWithGlobals<GlobalOptions>());
    });
  user
    .command("disable <name>")
    .description("disable an account and end its sessions and API tokens")
    .addOption(new Option("--enable", "enable it again instead"))
    .action(async (name: string, options: { enable?: boolean }, command: Command) => {
      const { setDisabled } = await import("./user-command");
      await setDisabled(name, options, command.optsWithGlobals<GlobalOptions>());
    });
  user
    .command("role <name> <role>")
    .description("make an account an admin or a plain user (ends its sessions; the last admin stays admin)")
    .action(async (name: string, role: string, _options: unknown, command: Command) => {
      const { setRole } = await import("./user-command");
      await setRole(name, role, command.optsWithGlobals<GlobalOptions>());
    });
  addClusterCommands(program);
  addPeerCommand(program);
  addJobsCommand(program);
  addTranscodeCommand(program);
  addTopologyCommand(program);
  addNatsConfigCommand(program);
  addRadioCommand(program);
  return program;
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const { describeError } = await import("./describe-error");
    const line = describeError(error);
    // Anything not described above is a bug: keep its stack for the report.
    console.error(line === "" ? error : line);
    return 1;
  }
}
