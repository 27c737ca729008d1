// UserStore over Kysely: the same queries on SQLite and PostgreSQL; row locks (FOR UPDATE) only where PostgreSQL
// runs transactions concurrently (SQLite's single connection already serialises them).
import { sql, type Db, type Transaction } from "@soundmesh/db";
import {
  nameKeyOf,
  type CredentialFilter,
  type LoginCounter,
  type StandingChange,
  type StandingNote,
  type StoredUser,
  type UserChange,
  type UserStore,
} from "./store";
import {
  accountColumns,
  accountRowOf,
  credentialOf,
  userOf,
  type CredentialRow,
  type Executor,
  type UserDb,
  type UserTables,
} from "./sql-tables";

export function createSqlUserStore(db: Db): UserStore {
  const kysely = db.kysely as UserDb;
  const locks = db.dialect === "postgres";

  async function deleteCredentialsIn(executor: Executor, filter: CredentialFilter): Promise<string[]> {
    if (filter.ids?.length === 0) return [];
    let query = executor.deleteFrom("user_credentials").where("user_id", "=", filter.userId);
    if (filter.kind !== undefined) query = query.where("kind", "=", filter.kind);
    if (filter.ids !== undefined) query = query.where("id", "in", filter.ids);
    if (filter.exceptIds !== undefined && filter.exceptIds.length > 0)
      query = query.where("id", "not in", filter.exceptIds);
    const rows = await query.returning("id").execute();
    return rows.map((row) => row.id);
  }

  /**
   * Writes the outbox row; called last in its transaction, so the counter row stays locked only until the commit
   * and every transaction takes it after its other locks (no deadlock, and positions follow commit order).
   */
  async function recordStandingIn(
    trx: Transaction<UserTables>,
    userId: string,
    credentialIds: string[],
    note: StandingNote,
  ): Promise<StandingChange> {
    const counter = await trx
      .updateTable("user_standing_seq")
      .set({ value: sql<number>`value + 1` })
      .where("id", "=", 1)
      .returning("value")
      .executeTakeFirstOrThrow();
    const seq = Number(counter.value);
    await trx
      .insertInto("user_standing_changes")
      .values({
        seq,
        user_id: userId,
        kind: note.kind,
        credential_ids: JSON.stringify(credentialIds),
        origin: note.origin,
        created_at: note.at,
      })
      .execute();
    return { seq, userId, credentialIds, ...note };
  }

  async function insertUserIn(executor: Executor, user: StoredUser): Promise<boolean> {
    const result = await executor
      .insertInto("user_accounts")
      .values(accountRowOf(user))
      .onConflict((conflict) => conflict.column("name_key").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async function hasAdminIn(executor: Executor): Promise<boolean> {
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

    replacePassword(userId, passwordHash, { kinds, keepIds }, note) {
      return kysely.transaction().execute(async (trx) => {
        await trx
          .updateTable("user_accounts")
          .set({ password_hash: passwordHash })
          .where("id", "=", userId)
          .execute();
        const ended: string[] = [];
        for (const kind of kinds)
          ended.push(...(await deleteCredentialsIn(trx, { userId, kind, exceptIds: keepIds })));
        return recordStandingIn(trx, userId, ended, note);
      });
    },

    changeUser(userId, change: UserChange, revokeKinds, note) {
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
        return { user: after, standing: await recordStandingIn(trx, userId, revokedIds, note) };
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

    deleteCredentials(filter, note) {
      return kysely.transaction().execute(async (trx) => {
        const ids = await deleteCredentialsIn(trx, filter);
        return ids.length === 0 ? undefined : recordStandingIn(trx, filter.userId, ids, note);
      });
    },

    deleteExpiredCredentials(note) {
      return kysely.transaction().execute(async (trx) => {
        const rows = await trx
          .deleteFrom("user_credentials")
          .where("expires_at", "<=", note.at)
          .returning(["id", "user_id"])
          .execute();
        const byUser = new Map<string, string[]>();
        for (const row of rows) byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), row.id]);
        const changes: StandingChange[] = [];
        for (const [userId, ids] of [...byUser].sort(([a], [b]) => a.localeCompare(b)))
          changes.push(await recordStandingIn(trx, userId, ids, note));
        return changes;
      });
    },

    async standingChangesAfter(seq, limit) {
      const rows = await kysely
        .selectFrom("user_standing_changes as c")
        .leftJoin("user_accounts as a", "a.id", "c.user_id")
        .select([
          "c.seq",
          "c.user_id",
          "c.kind",
          "c.credential_ids",
          "c.origin",
          "c.created_at",
          "a.role",
          "a.disabled",
        ])
        .where("c.seq", ">", seq)
        .orderBy("c.seq")
        .limit(limit)
        .execute();
      return rows.map((row) => ({
        seq: Number(row.seq),
        userId: row.user_id,
        kind: row.kind,
        credentialIds: JSON.parse(row.credential_ids) as string[],
        origin: row.origin,
        at: Number(row.created_at),
        user: row.role === null ? null : { role: row.role, disabled: Number(row.disabled) !== 0 },
      }));
    },

    async latestStandingSeq() {
      const row = await kysely
        .selectFrom("user_standing_seq")
        .select("value")
        .where("id", "=", 1)
        .executeTakeFirstOrThrow();
      return Number(row.value);
    },

    async pruneStandingChanges(beforeMs) {
      const result = await kysely
        .deleteFrom("user_standing_changes")
        .where("created_at", "<=", beforeMs)
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

    async findSubsonicSecret(userId) {
      const row = await kysely
        .selectFrom("user_subsonic_passwords")
        .select(["secret", "updated_at"])
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return row && { secret: row.secret, updatedAt: Number(row.updated_at) };
    },

    setSubsonicSecret(userId, secret, note) {
      return kysely.transaction().execute(async (trx) => {
        if (secret === null)
          await trx.deleteFrom("user_subsonic_passwords").where("user_id", "=", userId).execute();
        else
          await trx
            .insertInto("user_subsonic_passwords")
            .values({ user_id: userId, secret, updated_at: note.at })
            .onConflict((conflict) => conflict.column("user_id").doUpdateSet({ secret, updated_at: note.at }))
            .execute();
        return recordStandingIn(trx, userId, [], note);
      });
    },
  };
}
