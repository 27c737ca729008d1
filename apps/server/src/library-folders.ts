// The library folders a server or a scan reads: the ones recorded in the catalog's database by the first run. A
// folder given that is not recorded is refused unless --add-library or --replace-library says what is meant, so a
// mistyped path or a forgotten --library never scans the wrong folder (and removes the library's tracks).
import { join } from "node:path";
import type { Logger } from "pino";
import type { Db } from "@soundmesh/db";
import { AppError } from "@soundmesh/protocol";
import { SqlCatalogStore, folderProblem, migrateCatalogStore } from "@soundmesh/service-catalog";
import type { Config } from "./config";
import { ensureDemoLibrary } from "./demo-library";

/** What to do with given folders (--library) that are not the recorded ones. */
export interface LibraryChoice {
  /** Add them to the recorded folders. */
  add?: boolean;
  /** Make them the only library folders (the others' tracks are removed, kept 30 days as tombstones). */
  replace?: boolean;
}

/** Stops at the first given folder that does not exist or cannot be read, before anything is recorded. */
function requireReadable(folders: readonly string[]): void {
  for (const folder of folders) {
    const problem = folderProblem(folder);
    if (problem) throw new AppError("LIBRARY_UNAVAILABLE", `library folder ${folder} ${problem}`);
  }
}

async function demoFolder(config: Config, logger: Logger): Promise<string> {
  const folder = join(config.dataDir, "demo-library");
  logger.info({ folder }, "no library folder given or recorded: using the demo library");
  await ensureDemoLibrary(folder, (progress) => logger.info(progress, "making the demo library"));
  return folder;
}

/**
 * The folders to scan: the given ones (--library, SOUNDMESH_LIBRARY, the config file) when they are the recorded
 * ones, else the recorded ones; the first run records what it was given (or the demo library).
 */
export async function resolveLibraryFolders(
  config: Config,
  logger: Logger,
  db: Db,
  choice: LibraryChoice = {},
): Promise<readonly string[]> {
  await migrateCatalogStore(db);
  const store = new SqlCatalogStore(db);
  const given = [...new Set(config.library.folders)];
  const recorded = await store.libraryFolders();
  const record = async (folders: readonly string[]) => {
    await store.recordLibraryFolders(folders, Date.now());
    logger.info({ folders }, "library folders recorded");
    return folders;
  };
  if (given.length === 0) {
    if (choice.add || choice.replace)
      throw new AppError("BAD_REQUEST", "--add-library and --replace-library go with --library <dir>");
    if (recorded.length > 0 || !config.library.demo) return recorded;
    return record([await demoFolder(config, logger)]);
  }
  requireReadable(given);
  if (choice.replace) return record(given);
  const fresh = given.filter((folder) => !recorded.includes(folder));
  if (fresh.length === 0) return recorded;
  const demo = join(config.dataDir, "demo-library");
  if (recorded.length === 0) {
    // A catalog made before folders were recorded: a first --library that holds none of its tracks is a mistake.
    const total = await store.trackCount();
    const under = (await Promise.all(given.map((folder) => store.trackCount(folder)))).reduce(
      (a, b) => a + b,
      0,
    );
    if (total > 0 && under === 0)
      throw new AppError(
        "LIBRARY_NOT_RECORDED",
        `the catalog's ${total} tracks are not in ${given.join(", ")}; use --replace-library to make it the library anyway`,
      );
    return record(given);
  }
  // The demo library is only a placeholder: the first real folder replaces it.
  if (recorded.every((folder) => folder === demo)) return record(given);
  if (choice.add) return record([...recorded, ...fresh]);
  throw new AppError(
    "LIBRARY_NOT_RECORDED",
    `${fresh.join(", ")} is not a library folder of this server (recorded: ${recorded.join(", ")}); ` +
      "leave out --library to use those, or add --add-library to add it or --replace-library to use only it",
  );
}
