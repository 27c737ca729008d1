// The user service's tables. Portable across SQLite and PostgreSQL: booleans as 0/1 integers, times as epoch ms bigints.
import { migrateService, sql, type Db, type Kysely, type ServiceMigrations } from "@soundmesh/db";

export const userMigrations: ServiceMigrations = {
  "001-accounts-and-credentials": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("user_accounts")
        .addColumn("id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("name", "varchar(64)", (col) => col.notNull())
        .addColumn("name_key", "text", (col) => col.notNull().unique())
        .addColumn("role", "varchar(16)", (col) => col.notNull().check(sql`role in ('admin', 'user')`))
        .addColumn("disabled", "integer", (col) => col.notNull().defaultTo(0))
        .addColumn("password_hash", "text", (col) => col.notNull())
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .execute();
      await db.schema
        .createTable("user_credentials")
        .addColumn("id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("user_id", "varchar(64)", (col) =>
          col.notNull().references("user_accounts.id").onDelete("cascade"),
        )
        .addColumn("kind", "varchar(16)", (col) => col.notNull().check(sql`kind in ('session', 'api')`))
        .addColumn("token_hash", "char(64)", (col) => col.notNull().unique())
        .addColumn("label", "varchar(100)")
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .addColumn("expires_at", "bigint")
        .addColumn("last_used_at", "bigint")
        .execute();
      await db.schema
        .createIndex("user_credentials_by_user")
        .on("user_credentials")
        .columns(["user_id", "kind"])
        .execute();
      await db.schema
        .createIndex("user_credentials_by_expiry")
        .on("user_credentials")
        .column("expires_at")
        .execute();
      await db.schema
        .createTable("user_login_failures")
        .addColumn("key", "text", (col) => col.primaryKey())
        .addColumn("failures", "integer", (col) => col.notNull())
        .addColumn("last_failure_at", "bigint", (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex("user_login_failures_by_time")
        .on("user_login_failures")
        .column("last_failure_at")
        .execute();
      // One row, written inside the first-admin transaction so two concurrent set-ups cannot both succeed.
      await db.schema
        .createTable("user_setup")
        .addColumn("id", "integer", (col) => col.primaryKey())
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .execute();
    },
  },
  // The outbox of standing changes (see store.ts): a counter row hands out positions in commit order.
  "002-standing-changes": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("user_standing_seq")
        .addColumn("id", "integer", (col) => col.primaryKey())
        .addColumn("value", "bigint", (col) => col.notNull())
        .execute();
      await sql`insert into user_standing_seq (id, value) values (1, 0)`.execute(db);
      await db.schema
        .createTable("user_standing_changes")
        .addColumn("seq", "bigint", (col) => col.primaryKey())
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("kind", "varchar(32)", (col) => col.notNull())
        // A JSON array of the credential ids the change ended.
        .addColumn("credential_ids", "text", (col) => col.notNull())
        // The user-service instance that made the change; it announces its own rows itself.
        .addColumn("origin", "varchar(64)", (col) => col.notNull())
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex("user_standing_changes_by_time")
        .on("user_standing_changes")
        .column("created_at")
        .execute();
    },
  },
  // Subsonic passwords (AES-256-GCM under the server's key): token authentication needs the password itself.
  "003-subsonic-passwords": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("user_subsonic_passwords")
        .addColumn("user_id", "varchar(64)", (col) =>
          col.primaryKey().references("user_accounts.id").onDelete("cascade"),
        )
        .addColumn("secret", "text", (col) => col.notNull())
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .execute();
    },
  },
};

export function migrateUserStore(db: Db): Promise<string[]> {
  return migrateService(db, "user", userMigrations);
}
