// Loaded into a server a bench spawns (node --import): on SIGUSR2 it starts stamping each turn of the event loop (an
// immediate that sets the next one, so the check phase of every turn records the monotonic clock and the process's
// CPU time), and on the next SIGUSR2 it writes the stamps, [wall µs, CPU µs] each, to $SOUNDMESH_BENCH_TURNS_FILE.
// With a CPU profile of the same process, what ran between two stamps is one turn's work (bench/cpu-turns.ts); its
// CPU time leaves out the waits for a core of a loaded machine. Plain JavaScript: node loads it as it is.
import { writeFileSync } from "node:fs";

const file = process.env.SOUNDMESH_BENCH_TURNS_FILE;
let stamps;
const stamp = () => {
  if (!stamps) return;
  const { user, system } = process.cpuUsage();
  stamps.push([Number(process.hrtime.bigint() / 1000n), user + system]);
  setImmediate(stamp);
};
if (file)
  process.on("SIGUSR2", () => {
    if (stamps) {
      writeFileSync(file, JSON.stringify(stamps));
      stamps = undefined;
      return;
    }
    stamps = [];
    stamp();
    writeFileSync(`${file}.started`, "");
  });
