// Whether apps/server/dist can run as it is: dist/build-info.json (written by build.mjs) names every source file the
// build was made from and when the build started. Only node:fs (and path, url): this runs before every command.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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
  // Paths, not a URL per input: parsing ~300 URLs cost as much as the stats.
  const rootPath = fileURLToPath(rootDir);
  for (const input of info.inputs) {
    const stats = statSync(join(rootPath, input), { throwIfNoEntry: false });
    if (!stats) return `${input} is gone`;
    if (stats.mtimeMs > info.startedAtMs) return `${input} changed`;
  }
  return undefined;
}
