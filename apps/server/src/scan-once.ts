// For `soundmesh scan`: one scan of the library folders on the database directly, without the HTTP side.
import { mkdirSync } from "node:fs";
import type { ScanStatus } from "@soundmesh/protocol";
import type { ScanResult } from "@soundmesh/service-catalog";
import type { Config } from "./config";
import { startCatalogService } from "./catalog-wiring";
import { createLogger } from "./logger";
import { libraryFoldersOf } from "./library-folders";
import { createBusFor, openDb } from "./wiring";

/** For `soundmesh scan`: one scan of the library folders on the database directly, with progress. */
export async function scanOnce(
  config: Config,
  options: { full: boolean; onProgress: (status: ScanStatus) => void },
): Promise<ScanResult | undefined> {
  mkdirSync(config.dataDir, { recursive: true });
  const logger = createLogger("warn");
  const db = openDb(config, logger);
  const bus = createBusFor(config, logger);
  try {
    const catalog = await startCatalogService(
      config,
      logger,
      bus,
      db,
      await libraryFoldersOf(config, logger),
      false,
    );
    const unsubscribe = catalog.onProgress(options.onProgress);
    try {
      catalog.startScan(options.full);
      return await catalog.scanFinished();
    } finally {
      unsubscribe();
      await catalog.stop();
    }
  } finally {
    await bus.close();
    await db.close();
  }
}
