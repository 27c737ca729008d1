// The catalog service on its own, for `soundmesh scan` as well as the server: kept apart from library-services.ts
// so a scan loads neither search nor storage.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  SqlCatalogStore,
  DEFAULT_ARTIST_SEPARATORS,
  catalogManifest,
  createArtistSplitter,
  createCatalogService,
  migrateCatalogStore,
} from "@soundmesh/service-catalog";
import type { Config } from "./config";

export async function startCatalogService(
  config: Config,
  logger: Logger,
  bus: Bus,
  db: Db,
  libraryFolders: readonly string[],
  watch: boolean,
  /** Keep resized covers on this disk (all-in-one); a cluster's storage nodes keep them instead. */
  cacheCovers = true,
) {
  await migrateCatalogStore(db);
  const catalog = createCatalogService({
    config: {
      libraryFolders,
      cacheDir: join(config.dataDir, "cache"),
      watch,
      covers: config.covers,
      cacheCovers,
    },
    logger: logger.child({ service: "catalog" }),
    bus: bus.connect(catalogManifest),
    store: new SqlCatalogStore(db, {
      splitArtists: createArtistSplitter({
        separators: config.library.artistSeparators ?? DEFAULT_ARTIST_SEPARATORS,
        keepWhole: config.library.artistsNotSplit ?? [],
      }),
    }),
    clock: { now: () => Date.now() },
  });
  await catalog.start();
  return catalog;
}
