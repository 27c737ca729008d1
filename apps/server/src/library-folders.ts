// The library folders a server or a scan reads: the configured ones, or the demo library.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Config } from "./config";
import { ensureDemoLibrary } from "./demo-library";

/** The configured folders, or the demo library (made once with ffmpeg) when none is given. */
export async function libraryFoldersOf(config: Config, logger: Logger): Promise<readonly string[]> {
  if (config.library.folders.length > 0 || !config.library.demo) return config.library.folders;
  const folder = join(config.dataDir, "demo-library");
  logger.info({ folder }, "no library folder given: using the demo library");
  await ensureDemoLibrary(folder, (progress) => logger.info(progress, "making the demo library"));
  return [folder];
}
