// Public entry of @soundmesh/service-playlist: the service factory and manifest, its storage port and the SQL store.
export {
  createPlaylistService,
  playlistManifest,
  type Editor,
  type PlaylistService,
  type PlaylistServiceDeps,
} from "./playlist-service";
export type { PlaylistStore, PlaylistTransaction, StoredPlaylist, PlaylistMember } from "./store";
export { createSqlPlaylistStore } from "./sql-store";
export { migratePlaylistStore, playlistMigrations } from "./migrations";
export { parseM3u, parseXspf } from "./playlist-files";
export { smartOperations } from "./smart-playlists";
