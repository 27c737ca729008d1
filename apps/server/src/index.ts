// Public entry of @soundmesh/server: configuration and the all-in-one wiring, for the CLI and test-kit.
export { loadConfig, defaultConfig, configSchema, ConfigError, type Config } from "./config";
export { startAllInOne, type RunningServer } from "./all-in-one";
export { openUserAdmin } from "./user-admin";
export { scanOnce } from "./scan-once";
export { createLogger } from "./logger";
export { createSearchFor } from "./library-services";
export {
  startHeadlessPeer,
  releaseWebRtc,
  type HeadlessPeer,
  type HeadlessPeerOptions,
  type HeadlessPeerReport,
  type SelectedPair,
} from "./cli/headless-peer";
export { FileEventOutbox, readOutbox, type EventSubmitter } from "./cli/file-event-outbox";
export { openDb } from "./wiring";
export { startUserService } from "./user-wiring";
export { startCatalogService } from "./catalog-wiring";
export { startPlaylistService } from "./playlist-services";
