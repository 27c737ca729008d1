// The radio index on disk: `radio-<fingerprint>.hnsw` (hnswlib) and `radio-<fingerprint>.json` (which track each
// label is), and `current.json` naming the build in use. Every file is written whole (temporary name, fsync,
// rename), so a reader sees the old build or the new one, never a part.
import { open, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

export const INDEX_FORMAT = 1;

export const indexMeta = z.object({
  format: z.literal(INDEX_FORMAT),
  fingerprint: z.string(),
  dimensions: z.number().int().positive(),
  /** Per label: track id, album id, artist id, and 1 when placed by listening (0: by tags alone). */
  tracks: z.array(z.tuple([z.string(), z.string(), z.string(), z.union([z.literal(0), z.literal(1)])])),
  stats: z.object({
    listenedTracks: z.number().int(),
    sessions: z.number().int(),
    plays: z.number().int(),
    buckets: z.number().int(),
    lastHour: z.number().int().nullable(),
  }),
});
export type IndexMeta = z.infer<typeof indexMeta>;

const currentFile = z.object({ fingerprint: z.string().regex(/^[0-9a-f]{16,64}$/) });

export const indexPath = (dir: string, fingerprint: string) => join(dir, `radio-${fingerprint}.hnsw`);
export const metaPath = (dir: string, fingerprint: string) => join(dir, `radio-${fingerprint}.json`);
export const currentPath = (dir: string) => join(dir, "current.json");

async function fsyncPath(path: string, flags: "r" | "r+" = "r"): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Moves a finished temporary file into place durably. */
export async function publishFile(dir: string, temporary: string, path: string): Promise<void> {
  await fsyncPath(temporary);
  await rename(temporary, path);
  await fsyncPath(dir);
}

export async function writeFileWhole(dir: string, path: string, data: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, data);
  await publishFile(dir, temporary, path);
}

/** The fingerprint `current.json` names, or null when nothing was built yet. */
export async function readCurrent(dir: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(currentPath(dir), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  return currentFile.parse(JSON.parse(text)).fingerprint;
}

export const setCurrent = (dir: string, fingerprint: string) =>
  writeFileWhole(dir, currentPath(dir), JSON.stringify({ fingerprint }) + "\n");

/** Removes builds other than these (a reader holding an older one has read it whole already) and stray temps. */
export async function pruneBuilds(dir: string, keep: ReadonlySet<string>): Promise<void> {
  for (const name of await readdir(dir)) {
    const match = /^radio-([0-9a-f]+)\.(hnsw|json)(\.tmp-\d+)?$/.exec(name);
    if (!match) continue;
    if (match[3] === undefined && keep.has(match[1]!)) continue;
    await rm(join(dir, name), { force: true });
  }
}

/**
 * `built-<day>.json`: the scheduled job's output for a day (which build its input made); written last, so its
 * presence means that day's index is complete.
 */
export const dayBuildPath = (dir: string, day: string) => join(dir, `built-${day}.json`);

export async function recordDayBuild(dir: string, day: string, fingerprint: string): Promise<void> {
  await writeFileWhole(dir, dayBuildPath(dir, day), JSON.stringify({ day, fingerprint }) + "\n");
}
