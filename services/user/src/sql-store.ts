// UserStore over Kysely: the same queries on SQLite and PostgreSQL; row locks (FOR UPDATE) only where PostgreSQL
// runs transactions concurrently (SQLite's single connection already serialises them).
import type { Db, Kysely, Transaction } from "@soundmesh/db";
import type { Role } from "@soundmesh/protocol";
import {
  nameKeyOf,
  type CredentialFilter,
  type CredentialKind,
  type LoginCounter,
  type StoredCredential,
  type StoredUser,
  type UserChange,
  type UserStore,
} from "./store";

interface UserTables {
  user_accounts: {
    id: string;
    name: string;
    name_key: string;
    role: Role;
    disabled: number;
    password_hash: string;
    created_at: number;
  };
  user_credentials: {
    id: string;
    user_id: string;
    kind: CredentialKind;
    token_hash: string;
    label: string | null;
    created_at: number;
    expires_at: number | null;
    last_used_at: number | null;
  };
  user_login_failures: { key: string; failures: number; last_failure_at: number };
  user_setup: { id: number; updated_at: number };
}

type UserDb = Kysely<UserTables>;
type AccountRow = UserTables["user_accounts"];
type CredentialRow = UserTables["user_credentials"];

const accountColumns = ["id", "name", "name_key", "role", "disabled", "password_hash", "created_at"] as const;

function userOf(row: AccountRow): StoredUser {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    disabled: Number(row.disabled) !== 0,
    passwordHash: row.password_hash,
    createdAt: Number(row.created_at),
  };
}

function accountRowOf(user: StoredUser): AccountRow {
  return {
    id: user.id,
    name: user.name,
    name_key: nameKeyOf(user.name),
    role: user.role,
    disabled: user.disabled ? 1 : 0,
    password_hash: user.passwordHash,
    created_at: user.createdAt,
  };
}

const numberOrNull = (value: number | null): number | null => (value === null ? null : Number(value));

function credentialOf(row: CredentialRow): StoredCredential {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    tokenHash: row.token_hash,
    label: row.label,
    createdAt: Number(row.created_at),
    expiresAt: numberOrNull(row.expires_at),
    lastUsedAt: numberOrNull(row.last_used_at),
  };
}

export function createSqlUserStore(db: Db): UserStore {
  const kysely = db.kysely as UserDb;
  const locks = db.dialect === "postgres";

  async function deleteCredentialsIn(executor: UserDb | Transaction<UserTables>, filter: CredentialFilter) {
    if (filter.ids?.length === 0) return [];
    let query = executor.deleteFrom("user_credentials").where("user_id", "=", filter.userId);
    if (filter.kind !== undefined) query = query.where("kind", "=", filter.kind);
    if (filter.ids !== undefined) query = query.where("id", "in", filter.ids);
    if (filter.exceptId !== undefined) query = query.where("id", "!=", filter.exceptId);
    const rows = await query.returning("id").execute();
    return rows.map((row) => row.id);
  }

  async function insertUserIn(
    executor: UserDb | Transaction<UserTables>,
    user: StoredUser,
  ): Promise<boolean> {
    const result = await executor
      .insertInto("user_accounts")
      .values(accountRowOf(user))
      .onConflict((conflict) => conflict.column("name_key").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async function hasAdminIn(executor: UserDb | Transaction<UserTables>): Promise<boolean> {
    const row = await executor
      .selectFrom("user_accounts")
      .select("id")
      .where("role", "=", "admin")
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  return {
    insertFirstAdmin(user) {
      return kysely.transaction().execute(async (trx) => {
        // The upsert always writes the one setup row, so a concurrent set-up waits here until this one commits.
        await trx
          .insertInto("user_setup")
          .values({ id: 1, updated_at: user.createdAt })
          .onConflict((conflict) => conflict.column("id").doUpdateSet({ updated_at: user.createdAt }))
          .execute();
        if (await hasAdminIn(trx)) return false;
        return insertUserIn(trx, user);
      });
    },

    hasAdmin: () => hasAdminIn(kysely),

    insertUser: (user) => insertUserIn(kysely, user),

    async findUserByName(name) {
      const row = await kysely
        .selectFrom("user_accounts")
        .select(accountColumns)
        .where("name_key", "=", nameKeyOf(name))
        .executeTakeFirst();
      return row && userOf(row);
    },

    async findUserById(id) {
      const row = await kysely
        .selectFrom("user_accounts")
        .select(accountColumns)
        .where("id", "=", id)
        .executeTakeFirst();
      return row && userOf(row);
    },

    async listUsers() {
      const rows = await kysely
        .selectFrom("user_accounts")
        .select(accountColumns)
        .orderBy("name_key")
        .execute();
      return rows.map(userOf);
    },

    async updatePasswordHash(userId, passwordHash) {
      await kysely
        .updateTable("user_accounts")
        .set({ password_hash: passwordHash })
        .where("id", "=", userId)
        .execute();
    },

    replacePassword(userId, passwordHash, keepSessionId) {
      return kysely.transaction().execute(async (trx) => {
        await trx
          .updateTable("user_accounts")
          .set({ password_hash: passwordHash })
          .where("id", "=", userId)
          .execute();
        return deleteCredentialsIn(trx, {
          userId,
          kind: "session",
          ...(keepSessionId === undefined ? {} : { exceptId: keepSessionId }),
        });
      });
    },

    changeUser(userId, change: UserChange, revokeKinds) {
      return kysely.transaction().execute(async (trx) => {
        // Locking every enabled admin row makes two admins disabling each other at once take turns.
        let adminsQuery = trx
          .selectFrom("user_accounts")
          .select("id")
          .where("role", "=", "admin")
          .where("disabled", "=", 0);
        if (locks) adminsQuery = adminsQuery.forUpdate();
        const enabledAdmins = (await adminsQuery.execute()).map((row) => row.id);
        let userQuery = trx.selectFrom("user_accounts").select(accountColumns).where("id", "=", userId);
        if (locks) userQuery = userQuery.forUpdate();
        const row = await userQuery.executeTakeFirst();
        if (!row) return "not-found" as const;
        const before = userOf(row);
        const after: StoredUser = { ...before, ...change };
        const wasEnabledAdmin = before.role === "admin" && !before.disabled;
        const staysEnabledAdmin = after.role === "admin" && !after.disabled;
        if (wasEnabledAdmin && !staysEnabledAdmin && enabledAdmins.every((id) => id === userId))
          return "last-admin" as const;
        await trx
          .updateTable("user_accounts")
          .set({ role: after.role, disabled: after.disabled ? 1 : 0 })
          .where("id", "=", userId)
          .execute();
        const revokedIds: string[] = [];
        for (const kind of revokeKinds)
          revokedIds.push(...(await deleteCredentialsIn(trx, { userId, kind })));
        return { user: after, revokedIds };
      });
    },

    async insertCredential(credential) {
      await kysely
        .insertInto("user_credentials")
        .values({
          id: credential.id,
          user_id: credential.userId,
          kind: credential.kind,
          token_hash: credential.tokenHash,
          label: credential.label,
          created_at: credential.createdAt,
          expires_at: credential.expiresAt,
          last_used_at: credential.lastUsedAt,
        })
        .execute();
    },

    async findCredential(tokenHash) {
      const row = await kysely
        .selectFrom("user_credentials as c")
        .innerJoin("user_accounts as a", "a.id", "c.user_id")
        .select([
          "c.id",
          "c.user_id",
          "c.kind",
          "c.token_hash",
          "c.label",
          "c.created_at",
          "c.expires_at",
          "c.last_used_at",
          "a.name",
          "a.name_key",
          "a.role",
          "a.disabled",
          "a.password_hash",
          "a.created_at as user_created_at",
        ])
        .where("c.token_hash", "=", tokenHash)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        credential: credentialOf(row),
        user: userOf({ ...row, id: row.user_id, created_at: row.user_created_at }),
      };
    },

    async touchCredential(id, patch) {
      const values: Partial<CredentialRow> = {};
      if (patch.expiresAt !== undefined) values.expires_at = patch.expiresAt;
      if (patch.lastUsedAt !== undefined) values.last_used_at = patch.lastUsedAt;
      if (Object.keys(values).length === 0) return;
      await kysely.updateTable("user_credentials").set(values).where("id", "=", id).execute();
    },

    async listCredentials(userId, kind) {
      const rows = await kysely
        .selectFrom("user_credentials")
        .selectAll()
        .where("user_id", "=", userId)
        .where("kind", "=", kind)
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      return rows.map(credentialOf);
    },

    deleteCredentials: (filter) => deleteCredentialsIn(kysely, filter),

    async deleteExpiredCredentials(nowMs) {
      const result = await kysely
        .deleteFrom("user_credentials")
        .where("expires_at", "<=", nowMs)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    updateLoginCounters(keys, decide) {
      const sortedKeys = [...new Set(keys)].sort();
      return kysely.transaction().execute(async (trx) => {
        // Placeholder rows give PostgreSQL something to lock even for a first failure; inserted in key order to avoid deadlocks.
        for (const key of sortedKeys) {
          await trx
            .insertInto("user_login_failures")
            .values({ key, failures: 0, last_failure_at: 0 })
            .onConflict((conflict) => conflict.column("key").doNothing())
            .execute();
        }
        let query = trx
          .selectFrom("user_login_failures")
          .selectAll()
          .where("key", "in", sortedKeys)
          .orderBy("key");
        if (locks) query = query.forUpdate();
        const rows = await query.execute();
        const counters: LoginCounter[] = keys.map((key) => {
          const row = rows.find((candidate) => candidate.key === key);
          return {
            key,
            failures: Number(row?.failures ?? 0),
            lastFailureAt: Number(row?.last_failure_at ?? 0),
          };
        });
        const { writes, result } = decide(counters);
        const finalFailures = (key: string) =>
          writes.find((write) => write.key === key)?.failures ??
          counters.find((c) => c.key === key)?.failures ??
          0;
        for (const write of writes.filter((candidate) => candidate.failures > 0)) {
          await trx
            .updateTable("user_login_failures")
            .set({ failures: write.failures, last_failure_at: write.lastFailureAt })
            .where("key", "=", write.key)
            .execute();
        }
        // A counter at zero carries no information: drop it, placeholders nobody wrote to included.
        const zeroKeys = sortedKeys.filter((key) => finalFailures(key) === 0);
        if (zeroKeys.length > 0)
          await trx.deleteFrom("user_login_failures").where("key", "in", zeroKeys).execute();
        return result;
      });
    },

    async pruneLoginCounters(forgottenAtMs) {
      const result = await kysely
        .deleteFrom("user_login_failures")
        .where("last_failure_at", "<=", forgottenAtMs)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
