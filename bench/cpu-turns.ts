// Reads a V8 CPU profile (node --cpu-prof) as turns of the event loop: the turns' bounds come from stamps the same
// process took at each turn (bench/turn-stamps.mjs), and the costliest turns are listed with where their time went
// (self time by function, garbage collection apart). What a loop-delay histogram cannot say: which work held the loop.
import { existsSync, readFileSync } from "node:fs";
import { SourceMap, type SourceMapping } from "node:module";
import { fileURLToPath } from "node:url";
import { round, type Row } from "./report";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A turn's start: the monotonic clock (that of process.hrtime and of the profile) and the process's CPU time, µs. */
export type Stamp = [wallUs: number, cpuUs: number];

export interface Turn {
  startUs: number;
  durationMs: number;
  /** The process's CPU time in the turn (its threads', GC helpers included): the turn without waits for a core. */
  cpuMs: number;
  /** Self time by function in this turn, ms, most first. */
  functions: Array<{ name: string; ms: number }>;
  /** The callers this turn's time ran under: each sample's frames, counted once per sample, ms, most first. */
  within: Array<{ name: string; ms: number }>;
}

const sourceMaps = new Map<string, SourceMap | undefined>();

/** The source map beside a bundled file (the server's dist/*.js.map), read once. */
function sourceMapOf(url: string): SourceMap | undefined {
  if (!sourceMaps.has(url)) {
    const file = `${fileURLToPath(url)}.map`;
    sourceMaps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, "utf8"))) : undefined);
  }
  return sourceMaps.get(url);
}

/** A frame as "function file:line", in the original source where the bundle has a source map. */
function frameName({ functionName, url, lineNumber, columnNumber }: ProfileNode["callFrame"]): string {
  const name = functionName || "(anonymous)";
  if (url === "") return name;
  const found = url.startsWith("file:") ? sourceMapOf(url)?.findEntry(lineNumber, columnNumber) : undefined;
  // Node answers {} where the map has nothing.
  const entry = found as Partial<SourceMapping> | undefined;
  if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
    const source = entry.originalSource.split("/").slice(-2).join("/");
    return `${name} ${source}:${entry.originalLine + 1}`;
  }
  return `${name} ${url.split("/").at(-1)}:${lineNumber + 1}`;
}

/** The last index whose stamp is at or before `at`; -1 before the first. */
function turnIndex(stamps: readonly Stamp[], at: number): number {
  let low = 0;
  let high = stamps.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (stamps[middle]![0] <= at) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/**
 * The turns between consecutive `stamps` (one per turn), most CPU time first, each with the profile's samples that
 * fell in it; a sample stands for the time until the next one (the sampling interval, or longer when late).
 */
export function turnsOf(profileFile: string, stamps: readonly Stamp[]): Turn[] {
  const profile = JSON.parse(readFileSync(profileFile, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = stamps.map(() => new Map<string, number>());
  const within = stamps.map(() => new Map<string, number>());
  const add = (map: Map<string, number>, name: string, us: number) =>
    map.set(name, (map.get(name) ?? 0) + us);
  let at = profile.startTime;
  for (const [index, id] of profile.samples.entries()) {
    at += profile.timeDeltas[index]!;
    const turn = turnIndex(stamps, at);
    if (turn < 0 || turn >= stamps.length - 1) continue;
    const lengthUs = profile.timeDeltas[index + 1] ?? 0;
    add(self[turn]!, frameName(byId.get(id)!.callFrame), lengthUs);
    const seen = new Set<string>();
    for (let frame: number | undefined = id; frame !== undefined; frame = parent.get(frame)) {
      const name = frameName(byId.get(frame)!.callFrame);
      if (!seen.has(name)) add(within[turn]!, name, lengthUs);
      seen.add(name);
    }
  }
  const sorted = (map: Map<string, number>) =>
    [...map].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
  return stamps
    .slice(0, -1)
    .map(([startUs, cpuUs], i) => ({
      startUs,
      durationMs: (stamps[i + 1]![0] - startUs) / 1000,
      cpuMs: (stamps[i + 1]![1] - cpuUs) / 1000,
      functions: sorted(self[i]!),
      within: sorted(within[i]!),
    }))
    .sort((a, b) => b.cpuMs - a.cpuMs);
}

/** The costliest `count` turns as table rows: CPU and wall time, then the functions that took most of each, self and within. */
export function turnRows(turns: readonly Turn[], count: number, label: string): Row[] {
  const top = (list: Turn["functions"], n: number) =>
    list
      .slice(0, n)
      .map(({ name, ms }) => `${name} ${round(ms, 1)}`)
      .join("; ");
  return turns.slice(0, count).map((turn) => ({
    measure: label,
    "turn CPU ms": round(turn.cpuMs, 2),
    "turn wall ms": round(turn.durationMs, 2),
    "self ms, most first": top(turn.functions, 4),
    // Skipping the root, which every sample has: the callers that tell turns apart.
    "within ms": top(
      turn.within.filter(({ name }) => name !== "(root)"),
      8,
    ),
  }));
}

/** All the turns together, as one row: where the CPU time of the whole stretch went, by function. */
export function totalRow(turns: readonly Turn[], label: string): Row {
  const summed = (lists: Array<Turn["functions"]>, count: number) => {
    const byName = new Map<string, number>();
    for (const list of lists) for (const { name, ms } of list) byName.set(name, (byName.get(name) ?? 0) + ms);
    return [...byName]
      .map(([name, ms]) => ({ name, ms }))
      .filter(({ name }) => name !== "(root)")
      .sort((a, b) => b.ms - a.ms)
      .slice(0, count)
      .map(({ name, ms }) => `${name} ${round(ms, 1)}`)
      .join("; ");
  };
  return {
    measure: `${label}: all ${turns.length} turns`,
    "turn CPU ms": round(
      turns.reduce((sum, turn) => sum + turn.cpuMs, 0),
      1,
    ),
    "turn wall ms": round(
      turns.reduce((sum, turn) => sum + turn.durationMs, 0),
      1,
    ),
    "self ms, most first": summed(
      turns.map((turn) => turn.functions),
      12,
    ),
    "within ms": summed(
      turns.map((turn) => turn.within),
      Number(process.env.BENCH_TURNS_WITHIN ?? 8),
    ),
  };
}
