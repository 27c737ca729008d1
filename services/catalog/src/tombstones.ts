// What the catalog keeps so a different-looking library loses nothing: the library folders the server was given, and
// removed tracks as tombstones holding their ids for 30 days, so a file that comes back (same path, or moved and found
// by its content fingerprint) gets its old id and every playlist naming it heals.
import { sep } from "node:path";
import { sql } from "@soundmesh/db";
import { chunks, num, type CatalogDb, type TombstoneRow } from "./catalog-tables";

/** How long a removed track's id waits for its file to come back. */
export const TOMBSTONE_KEEP_MS = 30 * 86_400_000;

/** Turns tracks about to be deleted into tombstones, in the scan's transaction. */
export async function buryTracks(trx: CatalogDb, ids: readonly string[], removedAt: number): Promise<void> {
  for (const part of chunks(ids, 200)) {
    const rows = await trx
      .selectFrom("catalog_tracks")
      .select(["id", "path", "fingerprint", "title", "artist", "album", "duration_ms", "added_at"])
      .where("id", "in", part)
      .execute();
    if (rows.length === 0) continue;
    await trx.deleteFrom("catalog_tombstones").where("id", "in", part).execute();
    await trx
      .insertInto("catalog_tombstones")
      .values(rows.map((row) => ({ ...row, removed_at: removedAt })))
      .execute();
  }
}

/** Tracks written again (their file came back) are no longer tombstones; tombstones past their time go. */
export async function settleTombstones(
  trx: CatalogDb,
  revivedIds: readonly string[],
  nowMs: number,
): Promise<void> {
  for (const part of chunks(revivedIds))
    await trx.deleteFrom("catalog_tombstones").where("id", "in", part).execute();
  await trx
    .deleteFrom("catalog_tombstones")
    .where("removed_at", "<", nowMs - TOMBSTONE_KEEP_MS)
    .execute();
}

/** Unexpired tombstones at these paths or with these fingerprints. */
export async function tombstonesMatching(
  db: CatalogDb,
  paths: readonly string[],
  fingerprints: readonly string[],
  nowMs: number,
): Promise<TombstoneRow[]> {
  const since = nowMs - TOMBSTONE_KEEP_MS;
  const found = new Map<string, TombstoneRow>();
  for (const [column, values] of [
    ["path", paths],
    ["fingerprint", fingerprints],
  ] as const)
    for (const part of chunks([...new Set(values)]))
      for (const row of await db
        .selectFrom("catalog_tombstones")
        .selectAll()
        .where(column, "in", part)
        .where("removed_at", ">=", since)
        .orderBy("removed_at", "desc")
        .execute())
        found.set(row.id, row);
  return [...found.values()];
}

export async function tombstoneCount(db: CatalogDb): Promise<number> {
  const row = await db
    .selectFrom("catalog_tombstones")
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirst();
  return num(row?.n);
}

export async function recordedFolders(db: CatalogDb): Promise<string[]> {
  const rows = await db.selectFrom("catalog_library_folders").select("path").orderBy("path").execute();
  return rows.map((row) => row.path);
}

/** Makes these the library folders, keeping when each was first recorded. */
export async function recordFolders(db: CatalogDb, folders: readonly string[], nowMs: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const kept = new Set(await recordedFolders(trx));
    if (folders.length > 0)
      await trx
        .deleteFrom("catalog_library_folders")
        .where("path", "not in", [...folders])
        .execute();
    else await trx.deleteFrom("catalog_library_folders").execute();
    const fresh = [...new Set(folders)].filter((folder) => !kept.has(folder));
    if (fresh.length > 0)
      await trx
        .insertInto("catalog_library_folders")
        .values(fresh.map((path) => ({ path, added_at: nowMs })))
        .execute();
  });
}

/** How many tracks the catalog holds under a folder (compared by prefix, the same on both dialects). */
export async function tracksUnder(db: CatalogDb, folder: string): Promise<number> {
  const prefix = folder.endsWith(sep) ? folder : `${folder}${sep}`;
  const row = await db
    .selectFrom("catalog_tracks")
    .select((eb) => eb.fn.countAll().as("n"))
    .where(sql`substr(path, 1, ${prefix.length})`, "=", prefix)
    .executeTakeFirst();
  return num(row?.n);
}

export async function trackCount(db: CatalogDb): Promise<number> {
  const row = await db
    .selectFrom("catalog_tracks")
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirst();
  return num(row?.n);
}

/**
 * Which tombstone each returning file takes: one at its path first, else one with its fingerprint (the file moved);
 * each tombstone goes to one file only.
 */
export function matchTombstones(
  files: ReadonlyArray<{ path: string; fingerprint: string }>,
  tombstones: readonly TombstoneRow[],
): Map<string, TombstoneRow> {
  const byPath = new Map(tombstones.map((row) => [row.path, row]));
  const byFingerprint = new Map<string, TombstoneRow[]>();
  for (const row of tombstones)
    byFingerprint.set(row.fingerprint, [...(byFingerprint.get(row.fingerprint) ?? []), row]);
  const taken = new Set<string>();
  const matched = new Map<string, TombstoneRow>();
  for (const file of files) {
    const atPath = byPath.get(file.path);
    if (atPath && !taken.has(atPath.id) && atPath.fingerprint === file.fingerprint) {
      taken.add(atPath.id);
      matched.set(file.path, atPath);
    }
  }
  for (const file of files) {
    if (matched.has(file.path)) continue;
    const candidate =
      (byFingerprint.get(file.fingerprint) ?? []).find((row) => !taken.has(row.id)) ??
      [byPath.get(file.path)].find((row) => row !== undefined && !taken.has(row.id));
    if (candidate) {
      taken.add(candidate.id);
      matched.set(file.path, candidate);
    }
  }
  return matched;
}
