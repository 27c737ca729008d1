// Public entry of @soundmesh/service-user: the service factory and manifest, its storage port and the SQL store.
export {
  createUserService,
  userManifest,
  type Clock,
  type UserService,
  type UserServiceDeps,
} from "./user-service";
export { resolveUserConfig, type UserServiceConfig, type UserServiceConfigInput } from "./config";
export { delayAfterFailures } from "./login-throttle";
export { apiTokenPrefix, hashToken } from "./tokens";
export {
  nameKeyOf,
  type UserStore,
  type StoredUser,
  type StoredCredential,
  type CredentialKind,
  type LoginCounter,
  type StandingChange,
  type StandingNote,
} from "./store";
export { createSqlUserStore } from "./sql-store";
export { migrateUserStore, userMigrations } from "./migrations";
