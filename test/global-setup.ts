// Runs once before every test file: builds the CLI and the server (apps/server/dist), so every test that spawns
// `soundmesh` runs what ships, and the web player for production, so browser suites never build it themselves (two
// suites building into apps/web/dist at once would serve each other half-written files).
import { buildServer } from "../apps/server/bin/build.mjs";
import { buildWebPlayer } from "@soundmesh/test-kit/browser";

export default async function setup(): Promise<void> {
  await buildServer();
  buildWebPlayer();
}
