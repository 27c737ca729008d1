// The `soundmesh` command line: serve (all-in-one), user administration, scans; --help on every command.
import { Command, CommanderError, Option } from "commander";
import { AppError, userContract, type UserRecord } from "@soundmesh/protocol";
import { ConfigError, loadConfig, type Config } from "../config";
import { createLogger } from "../logger";
import { openUserAdmin, scanOnce, startAllInOne } from "../all-in-one";
import { ScanProgressBar } from "./scan-progress";
import { promptPassword, readPasswordFromStdin } from "./prompt";
import { addPeerCommand } from "./peer-command";
import { addTranscodeCommand } from "./transcode-command";
import { raiseOpenFileLimit } from "./file-limit";

interface GlobalOptions {
  config?: string;
  dataDir?: string;
  port?: string;
  host?: string;
  library?: string[];
  databaseUrl?: string;
}

function configFrom(options: GlobalOptions): Config {
  const overrides: Record<string, unknown> = {};
  if (options.dataDir) overrides.dataDir = options.dataDir;
  if (options.port !== undefined)
    overrides.port = /^\d+$/.test(options.port) ? Number(options.port) : options.port;
  if (options.host) overrides.host = options.host;
  if (options.databaseUrl) overrides.databaseUrl = options.databaseUrl;
  if (options.library?.length) overrides.library = { folders: options.library };
  return loadConfig({ ...(options.config ? { file: options.config } : {}), overrides });
}

async function readPassword(fromStdin: boolean | undefined, question: string): Promise<string> {
  if (fromStdin) return readPasswordFromStdin();
  if (process.env.SOUNDMESH_PASSWORD) return process.env.SOUNDMESH_PASSWORD;
  return promptPassword(question);
}

function printUsers(users: UserRecord[]): void {
  const rows = users.map((u) => [
    u.name,
    u.role,
    u.disabled ? "disabled" : "active",
    new Date(u.createdAt).toISOString(),
  ]);
  const header = ["NAME", "ROLE", "STATE", "CREATED"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
}

export function buildProgram(): Command {
  const program = new Command("soundmesh")
    .description("A self-hostable music streaming service")
    .option("-c, --config <file>", "JSON configuration file (also SOUNDMESH_CONFIG)")
    .option("-d, --data-dir <dir>", "where the database, caches and settings live (also SOUNDMESH_DATA_DIR)")
    .option("--database-url <url>", "PostgreSQL URL; without it an SQLite file in the data dir is used")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("serve")
    .description("start the all-in-one server: every service in one process on the in-process bus")
    .option("-p, --port <port>", "HTTP port (default 7700; also SOUNDMESH_PORT)")
    .option("--host <host>", "address to listen on (default 127.0.0.1; also SOUNDMESH_HOST)")
    .option(
      "-l, --library <dir...>",
      "music folders (also SOUNDMESH_LIBRARY); without one a demo library is made",
    )
    .action(async (options: GlobalOptions, command: Command) => {
      const config = configFrom({ ...command.optsWithGlobals<GlobalOptions>(), ...options });
      const logger = createLogger(config.logLevel);
      raiseOpenFileLimit({ logger });
      const server = await startAllInOne(config, logger);
      console.log(`soundmesh is listening on ${server.url} (data in ${config.dataDir})`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "shutting down");
          server.stop().then(resolve, (error: unknown) => {
            logger.error({ err: error }, "shutdown failed");
            resolve();
          });
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });

  program
    .command("scan")
    .description("scan the library folders now, with a progress bar (re-reads only changed files)")
    .option("-l, --library <dir...>", "music folders (also SOUNDMESH_LIBRARY)")
    .option("--full", "re-read every file, not only changed ones")
    .action(async (options: GlobalOptions & { full?: boolean }, command: Command) => {
      const config = configFrom({ ...command.optsWithGlobals<GlobalOptions>(), ...options });
      const bar = new ScanProgressBar(process.stderr.isTTY === true);
      const result = await scanOnce(config, {
        full: options.full === true,
        onProgress: (status) => bar.update(status),
      });
      bar.stop();
      if (!result) throw new AppError("INTERNAL", "The scan failed; see the log above");
      console.log(
        `scan finished: ${result.added} added, ${result.updated} updated, ${result.removed} removed, ` +
          `${result.unchanged} unchanged, ${result.errors} could not be read`,
      );
    });

  const user = program.command("user").description("manage accounts (works on the database directly)");
  user
    .command("add <name>")
    .description("create an account (the first one made while none exists is an admin)")
    .option("--admin", "give the account the admin role")
    .option("--password-stdin", "read the password from standard input")
    .action(async (name: string, options: { admin?: boolean; passwordStdin?: boolean }, command: Command) => {
      const config = configFrom(command.optsWithGlobals<GlobalOptions>());
      const password = await readPassword(options.passwordStdin, `Password for ${name}: `);
      await openUserAdmin(config, async (bus) => {
        const { needsSetup } = await bus.request(userContract, "setupStatus", {});
        const created = needsSetup
          ? await bus.request(userContract, "createFirstAdmin", { name, password })
          : await bus.request(
              userContract,
              "createUser",
              { name, password, role: options.admin ? "admin" : "user" },
              { role: "admin" },
            );
        console.log(`created ${created.role} ${created.name}`);
      });
    });
  user
    .command("list")
    .description("list accounts")
    .action(async (_options: unknown, command: Command) => {
      const config = configFrom(command.optsWithGlobals<GlobalOptions>());
      await openUserAdmin(config, async (bus) =>
        printUsers(await bus.request(userContract, "listUsers", {}, { role: "admin" })),
      );
    });
  user
    .command("passwd <name>")
    .description("set a new password for an account (ends its sessions)")
    .option("--password-stdin", "read the password from standard input")
    .action(async (name: string, options: { passwordStdin?: boolean }, command: Command) => {
      const config = configFrom(command.optsWithGlobals<GlobalOptions>());
      const password = await readPassword(options.passwordStdin, `New password for ${name}: `);
      await openUserAdmin(config, async (bus) => {
        await bus.request(userContract, "setPassword", { name, password });
        console.log(`password of ${name} changed`);
      });
    });
  user
    .command("disable <name>")
    .description("disable an account and end its sessions")
    .addOption(new Option("--enable", "enable it again instead"))
    .action(async (name: string, options: { enable?: boolean }, command: Command) => {
      const config = configFrom(command.optsWithGlobals<GlobalOptions>());
      await openUserAdmin(config, async (bus) => {
        const record = await bus.request(
          userContract,
          "setDisabled",
          { name, disabled: !options.enable },
          { role: "admin" },
        );
        console.log(`${record.name} is ${record.disabled ? "disabled" : "enabled"}`);
      });
    });
  addPeerCommand(program);
  addTranscodeCommand(program);
  return program;
}

/** One line for a person: what was wrong, naming the rule that was broken, not the call that broke it. */
export function describeError(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof AppError) {
    const details = Array.isArray(error.details)
      ? (error.details as Array<{ path?: unknown; message?: unknown }>)
      : [];
    const rules = details
      .filter((d) => typeof d.message === "string")
      .map((d) =>
        typeof d.path === "string" && d.path !== "" ? `${d.path}: ${String(d.message)}` : String(d.message),
      );
    return `error ${error.code}: ${rules.length > 0 ? rules.join("; ") : error.message}`;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const { address, port } = (error ?? {}) as { address?: string; port?: number };
  if (code === "EADDRINUSE")
    return `error: ${address ?? "the address"}:${port ?? "?"} is already in use (another soundmesh running?); choose another port with --port or SOUNDMESH_PORT`;
  if (code === "EACCES" && port !== undefined)
    return `error: no permission to listen on port ${port}; use a port above 1023 with --port or SOUNDMESH_PORT`;
  if (code === "EADDRNOTAVAIL")
    return `error: ${address ?? "the address"} is not an address of this machine; check --host or SOUNDMESH_HOST`;
  return "";
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const line = describeError(error);
    // Anything not described above is a bug: keep its stack for the report.
    console.error(line === "" ? error : line);
    return 1;
  }
}
