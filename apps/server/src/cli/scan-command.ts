// `soundmesh scan`: one scan of the library on the database, with a progress bar. Loaded only when this command runs.
import { AppError } from "@soundmesh/protocol";
import { scanOnce } from "../scan-once";
import { configFrom, type GlobalOptions } from "./config-from";
import { ScanProgressBar } from "./scan-progress";

export async function scan(options: GlobalOptions & { full?: boolean }): Promise<void> {
  const config = configFrom(options);
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
}
