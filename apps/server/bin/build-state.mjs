// Whether apps/server/dist can run as it is: dist/build-info.json (written by build.mjs) names every source file the
// build was made from and when the build started. Only node:fs: this runs before every command.
import { readFileSync, statSync } from "node:fs";

/**
 * Why the build in `distDir` cannot run as it is ("no build yet", "<file> changed", "<file> is gone"), or undefined
 * when it is newer than every file it was made from. Input paths are relative to `rootDir`. One stat per input.
 */
export function staleness(distDir, rootDir) {
  let info;
  try {
    info = JSON.parse(readFileSync(new URL("build-info.json", distDir), "utf8"));
  } catch {
    return "no build yet";
  }
  for (const input of info.inputs) {
    const stats = statSync(new URL(input, rootDir), { throwIfNoEntry: false });
    if (!stats) return `${input} is gone`;
    if (stats.mtimeMs > info.startedAtMs) return `${input} changed`;
  }
  return undefined;
}
