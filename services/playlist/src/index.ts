// Public entry of @soundmesh/service-playlist: the service factory and manifest, its storage port and the SQL store.
export {
  createPlaylistService,
  playlistManifest,
  type PlaylistService,
  type PlaylistServiceDeps,
} from "./playlist-service";
export type { Editor, EditRequest, EditResult } from "./commit-edits";
export type { PlaylistStore, PlaylistTransaction, StoredPlaylist, PlaylistMember } from "./store";
export { createSqlPlaylistStore } from "./sql-store";
export { createSqlSnapshotStore, type ItemSnapshotStore } from "./item-snapshots";
export { migratePlaylistStore, playlistMigrations } from "./migrations";
export { parseM3u, parseXspf } from "./playlist-files";
export { smartOperations } from "./smart-playlists";
