// The longest stretches a process's event loop was held, from a V8 CPU profile (node --cpu-prof; bench/playlist.ts
// keeps its server's with BENCH_PLAYLIST_TURNS=1 BENCH_KEEP_PROFILE=<file>): consecutive samples that are not
// "(idle)", and within each the functions (self time) and the stacks' frames seen most. Run:
//   npx tsx bench/long-holds.ts <profile.cpuprofile> [stretches=10] [minimum ms=5] [from s=0]
// The profiler's sampling slows the process, so the lengths are inflated; what a stretch is made of is the point.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, countText = "10", minimumText = "5", fromText = "0"] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: long-holds.ts <profile.cpuprofile> [stretches] [minimum ms] [from s]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

const nameOf = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.split("/").slice(-2).join("/")}:${lineNumber + 1}` : "";
  return `${functionName || "(anonymous)"} ${where}`.trim();
};
/** The sample's frames, outermost first, without the root. */
function stackOf(id: number): string[] {
  const frames: string[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const node = byId.get(at)!;
    if (node.callFrame.functionName !== "(root)") frames.push(nameOf(node));
  }
  return frames.reverse();
}

interface Stretch {
  startUs: number;
  lengthUs: number;
  samples: number[];
}
const stretches: Stretch[] = [];
let at = 0;
let current: Stretch | undefined;
for (const [index, id] of profile.samples.entries()) {
  at += profile.timeDeltas[index] ?? 0;
  const idle = byId.get(id)!.callFrame.functionName === "(idle)";
  if (idle) {
    if (current) stretches.push(current);
    current = undefined;
    continue;
  }
  current ??= { startUs: at, lengthUs: 0, samples: [] };
  current.lengthUs = at - current.startUs + (profile.timeDeltas[index + 1] ?? 0);
  current.samples.push(id);
}
if (current) stretches.push(current);

const minimumUs = Number(minimumText) * 1000;
const fromUs = Number(fromText) * 1e6;
const longest = stretches
  .filter((stretch) => stretch.lengthUs >= minimumUs && stretch.startUs >= fromUs)
  .sort((a, b) => b.lengthUs - a.lengthUs)
  .slice(0, Number(countText));
const total = stretches.reduce((sum, stretch) => sum + stretch.lengthUs, 0);
process.stdout.write(
  `${stretches.length} busy stretches, ${(total / 1000).toFixed(0)} ms busy; ` +
    `${stretches.filter((stretch) => stretch.lengthUs >= minimumUs).length} of ≥ ${minimumText} ms\n`,
);

const top = (counts: Map<string, number>, n: number, of: number) =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, count]) => `    ${((100 * count) / of).toFixed(0).padStart(3)} %  ${name}`)
    .join("\n");

for (const stretch of longest) {
  const self = new Map<string, number>();
  const inStack = new Map<string, number>();
  for (const id of stretch.samples) {
    const name = nameOf(byId.get(id)!);
    self.set(name, (self.get(name) ?? 0) + 1);
    for (const frame of new Set(stackOf(id))) inStack.set(frame, (inStack.get(frame) ?? 0) + 1);
  }
  const n = stretch.samples.length;
  process.stdout.write(
    `\n${(stretch.lengthUs / 1000).toFixed(1)} ms at ${(stretch.startUs / 1e6).toFixed(3)} s (${n} samples)\n` +
      `  self:\n${top(self, 8, n)}\n  in the stack:\n${top(inStack, 14, n)}\n`,
  );
}
