// `soundmesh scan`: one scan of the library on the database, with a progress bar. Loaded only when this command runs.
import { scanOnce } from "../scan-once";
import { configFrom, type GlobalOptions, type LibraryOptions } from "./config-from";
import { ScanProgressBar } from "./scan-progress";

export async function scan(
  options: GlobalOptions & LibraryOptions & { full?: boolean; allowMassRemoval?: boolean },
): Promise<void> {
  const config = configFrom(options);
  const bar = new ScanProgressBar(process.stderr.isTTY === true);
  try {
    const result = await scanOnce(config, {
      full: options.full === true,
      allowMassRemoval: options.allowMassRemoval === true,
      library: { add: options.addLibrary === true, replace: options.replaceLibrary === true },
      onProgress: (status) => bar.update(status),
    });
    console.log(
      `scan finished: ${result.added} added, ${result.updated} updated, ${result.removed} removed, ` +
        `${result.unchanged} unchanged, ${result.errors} could not be read`,
    );
  } finally {
    bar.stop();
  }
}
