// Runs every benchmark in bench/ one after another, each in its own process.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const skip = new Set([
  "run-all.ts",
  "report.ts",
  "abuse-victim.ts",
  "bare-piece-server.ts",
  "tagged-copies.ts",
  "heap-parts.ts",
  "heap-parts-bundle.ts",
  "tagged-library.ts",
  "search-library.ts",
  "search-profile.ts",
]);
const only = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && !skip.has(file))
  .filter((file) => only.length === 0 || only.some((name) => file.startsWith(name)))
  .sort();
let failed = 0;
for (const script of scripts) {
  console.log(`\n=== ${script}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", join(here, script)], { stdio: "inherit" });
  if (result.status !== 0) failed += 1;
}
process.exitCode = failed === 0 ? 0 : 1;
