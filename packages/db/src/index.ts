// Public entry of @soundmesh/db: one Kysely handle over SQLite (default) or PostgreSQL, and per-service migrations.
export {
  cachingStatements,
  createDb,
  type CreateDbOptions,
  type Db,
  type DbConfig,
  type DbDialect,
} from "./create-db";
export { mallocTrimUnavailable, trimMallocArenas } from "./malloc-trim";
export { migrateService, type ServiceMigrations } from "./migrate";
export { sql, type Kysely, type Migration, type Transaction } from "kysely";
