// The user service's storage port: what the service needs from its tables, with the atomic steps spelled out,
// so the rules stay in the service and tests or other backends can swap the SQL implementation out.
import type { Role, StandingChangeKind } from "@soundmesh/protocol";

export interface StoredUser {
  id: string;
  /** As the user typed it; uniqueness and sign-in use nameKeyOf(name). */
  name: string;
  role: Role;
  disabled: boolean;
  /** argon2id, PHC string format. */
  passwordHash: string;
  createdAt: number;
}

/** A login session (expires, slides) or an API token (optional fixed expiry); both found by the token's SHA-256. */
export type CredentialKind = "session" | "api";

export interface StoredCredential {
  id: string;
  userId: string;
  kind: CredentialKind;
  tokenHash: string;
  label: string | null;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** Consecutive failed sign-ins for one key (an account or an address). */
export interface LoginCounter {
  key: string;
  failures: number;
  lastFailureAt: number;
}

export interface UserChange {
  disabled?: boolean;
  role?: Role;
}

export interface CredentialFilter {
  userId: string;
  kind?: CredentialKind;
  ids?: readonly string[];
  exceptIds?: readonly string[];
}

/** What the store records with a change of standing: why, which service instance made it, when. */
export interface StandingNote {
  kind: StandingChangeKind;
  origin: string;
  at: number;
}

/**
 * A row of the outbox of standing changes, written in the transaction that made the change. `seq` grows in commit
 * order (one counter row, locked to the end of the transaction), so a follower reading `seq > last` misses nothing.
 */
export interface StandingChange extends StandingNote {
  seq: number;
  userId: string;
  credentialIds: string[];
}

/** An outbox row with the user's standing at the time it is read (null: the account is gone). */
export interface StandingChangeWithUser extends StandingChange {
  user: { role: Role; disabled: boolean } | null;
}

export interface UserStore {
  /** Inserts the first administrator, serialised against concurrent attempts; false when an admin already exists. */
  insertFirstAdmin(user: StoredUser): Promise<boolean>;
  hasAdmin(): Promise<boolean>;
  /** False when the name (compared with nameKeyOf) is taken. */
  insertUser(user: StoredUser): Promise<boolean>;
  findUserByName(name: string): Promise<StoredUser | undefined>;
  findUserById(id: string): Promise<StoredUser | undefined>;
  listUsers(): Promise<StoredUser[]>;
  /** Replaces the hash only (a rehash with new parameters). */
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;
  /**
   * Replaces the hash and deletes the user's credentials of `revokeKinds` except `keepIds`, recording the change,
   * in one transaction.
   */
  replacePassword(
    userId: string,
    passwordHash: string,
    revoke: { kinds: readonly CredentialKind[]; keepIds: readonly string[] },
    note: StandingNote,
  ): Promise<StandingChange>;
  /**
   * Applies `change`, deletes the user's credentials of `revokeKinds` and records the change, in one transaction.
   * Refuses ("last-admin") when no enabled admin would remain; "not-found" when there is no such user.
   */
  changeUser(
    userId: string,
    change: UserChange,
    revokeKinds: readonly CredentialKind[],
    note: StandingNote,
  ): Promise<{ user: StoredUser; standing: StandingChange } | "last-admin" | "not-found">;

  insertCredential(credential: StoredCredential): Promise<void>;
  findCredential(tokenHash: string): Promise<{ credential: StoredCredential; user: StoredUser } | undefined>;
  touchCredential(id: string, patch: { expiresAt?: number; lastUsedAt?: number }): Promise<void>;
  listCredentials(userId: string, kind: CredentialKind): Promise<StoredCredential[]>;
  /** Deletes the matching credentials and records it; undefined (nothing recorded) when none matched. */
  deleteCredentials(filter: CredentialFilter, note: StandingNote): Promise<StandingChange | undefined>;
  /** Deletes credentials expired at `note.at`, recording one change per user. */
  deleteExpiredCredentials(note: StandingNote): Promise<StandingChange[]>;

  /** Outbox rows after `seq`, oldest first, at most `limit`. */
  standingChangesAfter(seq: number, limit: number): Promise<StandingChangeWithUser[]>;
  /** The newest outbox position (0 before any change). */
  latestStandingSeq(): Promise<number>;
  /** Deletes outbox rows made at or before `beforeMs`. */
  pruneStandingChanges(beforeMs: number): Promise<number>;

  /**
   * Reads the counters of `keys` (zero when absent) under a lock held until `decide`'s writes are stored,
   * so concurrent sign-in attempts see each other. A written counter with zero failures is deleted.
   */
  updateLoginCounters<T>(
    keys: readonly string[],
    decide: (counters: LoginCounter[]) => { writes: LoginCounter[]; result: T },
  ): Promise<T>;
  /** The user's encrypted Subsonic password and when it was set. */
  findSubsonicSecret(userId: string): Promise<{ secret: string; updatedAt: number } | undefined>;
  /** Stores (or with null deletes) the user's encrypted Subsonic password and records the change, in one transaction. */
  setSubsonicSecret(userId: string, secret: string | null, note: StandingNote): Promise<StandingChange>;

  /** Deletes counters whose last failure was at or before `forgottenAtMs`. */
  pruneLoginCounters(forgottenAtMs: number): Promise<number>;
}

/** Names compare case-insensitively and after Unicode compatibility folding ("Ａlice" is "alice"). */
export function nameKeyOf(name: string): string {
  return name.trim().normalize("NFKC").toLowerCase();
}
