// Heap by part, a helper of bench/memory.ts (not a bench itself): the all-in-one server's wiring started in this
// process (bundled as the server is, run with --expose-gc). As each part is created (StartOptions.onStage), after the
// first scan and once the search index holds it, garbage is collected and process.memoryUsage() read: each row is what
// that part added. Arguments: the library folder and a data folder; the rows are printed as JSON on the last line.
import { Writable } from "node:stream";
import pino from "pino";
import { startAllInOne } from "../apps/server/src/all-in-one";
import { loadConfig } from "../apps/server/src/config";

const [root, dataDir] = process.argv.slice(2);
const collect = globalThis.gc;
if (!root || !dataDir || !collect)
  throw new Error("usage: node --expose-gc heap-parts.js <library> <data dir>");
const MiB = 1024 * 1024;
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

function reading(): NodeJS.MemoryUsage {
  // Twice: the first pass may leave what finalizers free for the second.
  collect!();
  collect!();
  return process.memoryUsage();
}

type Row = Record<string, string | number>;
const rows: Row[] = [];
const columns = (part: string, usage: NodeJS.MemoryUsage, from?: NodeJS.MemoryUsage): Row => ({
  part,
  "heap used MiB": mib(usage.heapUsed - (from?.heapUsed ?? 0)),
  "heap total MiB": mib(usage.heapTotal - (from?.heapTotal ?? 0)),
  "RSS MiB": mib(usage.rss - (from?.rss ?? 0)),
  "external MiB": mib(usage.external - (from?.external ?? 0)),
  "arrayBuffers MiB": mib(usage.arrayBuffers - (from?.arrayBuffers ?? 0)),
});
const first = reading();
rows.push(columns("node and the server's code, loaded", first));
let last = first;
function stage(part: string): void {
  const now = reading();
  rows.push(columns(part, now, last));
  last = now;
}

let scanned = false;
let indexed: () => void = () => undefined;
const searchIndexed = new Promise<void>((resolve) => (indexed = resolve));
// pino writes each line here synchronously, so a reading taken on "scan finished" comes before search starts building.
const logLines = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      const entry = JSON.parse(line) as { msg?: string; documents?: number };
      if (entry.msg === "scan finished") {
        stage("first scan: catalog rows written (SQLite's page cache)");
        scanned = true;
      }
      if (entry.msg === "search index swapped in" && scanned && entry.documents) {
        stage(`search index (${entry.documents.toLocaleString("en")} documents)`);
        indexed();
      }
    }
    done();
  },
});

const config = loadConfig({
  env: {
    SOUNDMESH_DATA_DIR: dataDir,
    SOUNDMESH_LIBRARY: root,
    SOUNDMESH_DEMO_LIBRARY: "false",
    SOUNDMESH_PORT: "0",
  },
});
const server = await startAllInOne(config, pino({ level: "info" }, logLines), { onStage: stage });
await searchIndexed;
const idle = reading();
rows.push(columns("total, idle", idle));
await server.stop();
console.log(JSON.stringify(rows));
