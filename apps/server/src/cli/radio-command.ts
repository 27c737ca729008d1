// `soundmesh radio rebuild`: builds the radio index now from the closed event buckets and the catalog, on the data
// dir directly. Registers the command only; radio-rebuild.ts loads when it runs.
import type { Command } from "commander";
import type { GlobalOptions } from "./config-from";

export function addRadioCommand(program: Command): void {
  const radio = program.command("radio").description("radio and similar tracks: the recommendation index");
  radio
    .command("rebuild")
    .description(
      "build the radio index from every closed event bucket and the catalog now, with a progress bar (a running server swaps it in at once; the scheduled build is the job rebuild-recommendation-index)",
    )
    .action(async (_options: unknown, command: Command) => {
      const { rebuildRadio } = await import("./radio-rebuild");
      await rebuildRadio(command.optsWithGlobals<GlobalOptions>());
    });
}
