// Runs once before every test file: builds the web player for production, so browser suites never build it
// themselves (two suites building into apps/web/dist at once would serve each other half-written files).
import { buildWebPlayer } from "@soundmesh/test-kit";

export default function setup(): void {
  buildWebPlayer();
}
