#!/usr/bin/env node
// Builds the web player before `npm start` when its sources are present; a failing build stops the start.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const webDir = fileURLToPath(new URL("../../web/", import.meta.url));
if (!existsSync(`${webDir}index.html`)) {
  console.log("soundmesh: no web player sources (apps/web/index.html); serving the minimal page");
  process.exit(0);
}
const result = spawnSync("npm", ["run", "build", "--workspace", "@soundmesh/web"], { stdio: "inherit" });
process.exit(result.status ?? 1);
