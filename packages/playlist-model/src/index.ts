// Public entry of @soundmesh/playlist-model: the framework-free client model of a playlist (optimistic view,
// offline queue) and the sync that keeps it in step with the server; shared by the web player and tests.
export { ItemList, type PlaylistMeta } from "./item-list";
export {
  PlaylistModel,
  newRandomId,
  type BatchOutcome,
  type EditBatch,
  type PlaylistModelOptions,
  type PlaylistModelState,
  type QueuedOperation,
  type SyncErrorInfo,
} from "./playlist-model";
export { PlaylistSync, syncErrorOf, type PlaylistConnection } from "./playlist-sync";
