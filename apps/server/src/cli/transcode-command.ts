// `soundmesh transcode`: asks a running server to make the newest tracks (or the whole library) ready ahead of
// time, and follows its pushed progress with a bar (transcode-run.ts, loaded only when the command runs).
import type { Command } from "commander";
import type { TranscodeCommandOptions } from "./transcode-run";

export function addTranscodeCommand(program: Command): void {
  program
    .command("transcode")
    .description(
      "make the newest tracks (or all) ready ahead of time on a running server, with a progress bar",
    )
    .requiredOption("-s, --server <url>", "the soundmesh server, e.g. http://127.0.0.1:7700")
    .requiredOption("-u, --user <name>", "an administrator (password from SOUNDMESH_PASSWORD, else asked)")
    .option("-n, --tracks <count>", "how many of the most recently added tracks", "500")
    .option("--all", "every track in the library")
    .option("--profile <name...>", "profiles to make (default: the server's transcode.ahead)")
    .action(async (options: TranscodeCommandOptions) => {
      const { transcode } = await import("./transcode-run");
      await transcode(options);
    });
}
