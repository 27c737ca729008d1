// For `soundmesh scan`: one scan of the library folders on the database directly, without the HTTP side.
import { mkdirSync } from "node:fs";
import { AppError, type ScanStatus } from "@soundmesh/protocol";
import type { ScanResult } from "@soundmesh/service-catalog";
import type { Config } from "./config";
import { startCatalogService } from "./catalog-wiring";
import { createLogger } from "./logger";
import { resolveLibraryFolders, type LibraryChoice } from "./library-folders";
import { createBusFor, openDb } from "./wiring";

export interface ScanOnceOptions {
  full: boolean;
  /** Go ahead although the scan removes more than a quarter of a folder's tracks. */
  allowMassRemoval?: boolean;
  library?: LibraryChoice;
  onProgress: (status: ScanStatus) => void;
}

/**
 * For `soundmesh scan`: one scan of the library folders on the database directly, with progress. A scan that stops
 * to keep the library safe (a folder unavailable, a mass removal) throws its problem as an AppError.
 */
export async function scanOnce(config: Config, options: ScanOnceOptions): Promise<ScanResult> {
  mkdirSync(config.dataDir, { recursive: true });
  const logger = createLogger("warn");
  const db = openDb(config, logger);
  const bus = createBusFor(config, logger);
  try {
    const folders = await resolveLibraryFolders(config, logger, db, options.library);
    const catalog = await startCatalogService(config, logger, bus, db, folders, false);
    const unsubscribe = catalog.onProgress(options.onProgress);
    try {
      catalog.startScan(options.full, options.allowMassRemoval ?? false);
      const result = await catalog.scanFinished();
      const problem = catalog.status().problem;
      if (problem) throw new AppError(problem.code, problem.message, { details: problem });
      if (!result) throw new AppError("INTERNAL", "The scan failed; see the log above");
      return result;
    } finally {
      unsubscribe();
      await catalog.stop();
    }
  } finally {
    await bus.close();
    await db.close();
  }
}
