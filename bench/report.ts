// Shared by every benchmark: percentiles, a printed table and a JSON file in bench/results/.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type Row = Record<string, string | number>;

export function percentile(sortedValues: readonly number[], p: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  const index = Math.min(sortedValues.length - 1, Math.max(0, Math.ceil(sortedValues.length * p) - 1));
  return sortedValues[index]!;
}

export function summarize(samplesMs: number[]): {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  count: number;
} {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length);
  return {
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    mean,
    count: sorted.length,
  };
}

export const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

export function printTable(title: string, rows: Row[]): void {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => String(row[column] ?? "").length)),
  );
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
  console.log(`\n${title}`);
  console.log(line(columns));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(columns.map((column) => String(row[column] ?? ""))));
}

export function writeResults(name: string, rows: Row[], extra: Record<string, unknown> = {}): string {
  const directory = join(dirname(fileURLToPath(import.meta.url)), "results");
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${name}.json`);
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryBytes: totalmem(),
    node: process.version,
  };
  writeFileSync(
    file,
    JSON.stringify({ name, date: new Date().toISOString(), machine, rows, ...extra }, null, 2),
  );
  console.log(`\nwrote ${file}`);
  return file;
}

/**
 * Writes a server config with the per-user and per-edge rate limits and the per-user socket cap out of the way, so a benchmark measures the
 * server rather than its limiters; returns the file's path (for SOUNDMESH_CONFIG).
 */
export function writeUnlimitedConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const file = join(dir, "bench-config.json");
  const unlimited = { ratePerSecond: 1e6, burst: 1e6 };
  writeFileSync(
    file,
    JSON.stringify({
      rateLimits: { perUser: unlimited, perUserHttp: unlimited, busDefault: unlimited },
      // The benchmarks open up to 128 sockets as one user.
      connections: { maxSocketsPerUser: 1_000 },
      ...extra,
    }),
  );
  return file;
}

/**
 * CPU time (user + system, ms) of a Node process and its descendants so far (a server behind its launcher, a whole
 * local cluster under `soundmesh cluster`), without the ffmpeg processes it runs (transcodes finishing, and waiting
 * ones starting).
 */
export function cpuOfTree(pid: number): number {
  let total = 0;
  try {
    if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "ffmpeg") return 0;
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    total += (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean))
      total += cpuOfTree(Number(child));
  } catch {
    // Ended meanwhile.
  }
  return total;
}
