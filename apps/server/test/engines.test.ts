// Every installed package supports the Node.js the README promises, so `npm ci` prints no engine warnings and
// nothing crashes later on a Node 20 machine (a dependency that needs Node 22 once slipped in through the lockfile).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const readJson = (file: string) => JSON.parse(readFileSync(join(root, file), "utf8")) as unknown;

describe("the lockfile's engines", () => {
  it("lets every package run on the oldest Node.js the project supports", () => {
    const { engines } = readJson("package.json") as { engines: { node: string } };
    const oldest = semver.minVersion(engines.node)!.version;
    const lock = readJson("package-lock.json") as {
      packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
    };
    const refusing = Object.entries(lock.packages).flatMap(([path, entry]) => {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (!range || semver.satisfies(oldest, range)) return [];
      return [`${path}@${entry.version ?? "?"} needs node ${range}`];
    });
    expect(refusing).toEqual([]);
  });
});
