// The user service's tables as Kysely sees them, and the conversions between their rows and the store's records.
import type { Kysely, Transaction } from "@soundmesh/db";
import type { Role, StandingChangeKind } from "@soundmesh/protocol";
import { nameKeyOf, type CredentialKind, type StoredCredential, type StoredUser } from "./store";

export interface UserTables {
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
  user_standing_seq: { id: number; value: number };
  user_subsonic_passwords: { user_id: string; secret: string; updated_at: number };
  user_standing_changes: {
    seq: number;
    user_id: string;
    kind: StandingChangeKind;
    credential_ids: string;
    origin: string;
    created_at: number;
  };
}

export type UserDb = Kysely<UserTables>;
export type Executor = UserDb | Transaction<UserTables>;
export type AccountRow = UserTables["user_accounts"];
export type CredentialRow = UserTables["user_credentials"];

export const accountColumns = [
  "id",
  "name",
  "name_key",
  "role",
  "disabled",
  "password_hash",
  "created_at",
] as const;

export function userOf(row: AccountRow): StoredUser {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    disabled: Number(row.disabled) !== 0,
    passwordHash: row.password_hash,
    createdAt: Number(row.created_at),
  };
}

export function accountRowOf(user: StoredUser): AccountRow {
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

export function credentialOf(row: CredentialRow): StoredCredential {
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
