// Rows at random without reading the whole table. Track ids are random and album ids are hashes (base64url), so ids
// lie uniformly over the key space: a draw is one seek on the primary key at a random point of that space, and its
// cost does not grow with the library. Each draw then steps a random 0–7 entries on (round the end of the key space
// to its start), so an id's chance is the mean of the eight gaps before it rather than the one gap before it (one gap
// can be several times the mean; the mean of eight rarely is), at the ends of the key space as in its middle.
import { randomBytes, randomInt } from "node:crypto";
import { sql } from "@soundmesh/db";
import type { CatalogDb } from "./catalog-tables";

/** Draws per statement (SQLite's compound-select limit is 500). */
const drawsPerStatement = 200;
const rounds = 4;
const steps = 8;

/**
 * Up to `count` distinct ids of `table` at random, in random order. Fewer than `count` only when the table is small
 * (or every round was unlucky): the caller then falls back to sorting the whole table at random, which is cheap there.
 */
export async function drawIds(
  db: CatalogDb,
  table: "catalog_tracks" | "catalog_albums",
  count: number,
): Promise<string[]> {
  const chosen = new Set<string>();
  let first: string[] | undefined;
  for (let round = 0; round < rounds && chosen.size < count; round += 1) {
    const draws = Math.min(drawsPerStatement, (count - chosen.size) * 2 + 4);
    const seeks = Array.from(
      { length: draws },
      (_, i) =>
        sql`select * from (select ${i} as draw, id from ${sql.table(table)}
          where id >= ${randomBytes(12).toString("base64url")} order by id limit ${steps}) as ${sql.raw(`d${i}`)}`,
    );
    const { rows } = await sql<{ draw: number; id: string }>`${sql.join(seeks, sql` union all `)}`.execute(
      db,
    );
    const after: string[][] = Array.from({ length: draws }, () => []);
    for (const row of rows) after[Number(row.draw)]!.push(row.id);
    for (const ids of after) {
      const step = randomInt(steps);
      if (step >= ids.length) {
        first ??= (await db.selectFrom(table).select("id").orderBy("id").limit(steps).execute()).map(
          (row) => row.id,
        );
      }
      const id = step < ids.length ? ids[step] : first![step - ids.length];
      if (id !== undefined && chosen.size < count) chosen.add(id);
    }
  }
  return shuffle([...chosen]);
}

/** Fisher–Yates, in place. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Puts rows read by id (which come in index order) into the order of `ids`. */
export function inOrderOf<T extends { id: string }>(ids: readonly string[], rows: readonly T[]): T[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
