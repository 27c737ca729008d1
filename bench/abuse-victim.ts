// The abuse benchmark's other user, in a process of its own so the flooder's client work (sending and parsing
// thousands of frames a second in the benchmark's process) cannot delay it: what it measures is the server.
// Input: one JSON argument { url, token, calls: { albumId, playlistId }, durationMs, intervalMs }; output: a line
// "ready" once connected (the
// flood starts then), and one JSON line { samples, errors } at the end.
import { z } from "zod";
import { WsClient } from "@soundmesh/test-kit";
import { catalogContract, playlistContract, searchContract, userContract } from "@soundmesh/protocol";

const input = z
  .object({
    url: z.string().url(),
    token: z.string().min(1),
    calls: z.object({ albumId: z.string(), playlistId: z.string() }),
    durationMs: z.number().int().positive(),
    intervalMs: z.number().int().positive(),
  })
  .parse(JSON.parse(process.argv[2] ?? "{}"));

const victim = await WsClient.connect(input.url, input.token);
await victim.call(userContract, "me");
/** Round-robin over browse, search and a playlist, each named for the error counts. */
const calls: Array<[string, () => Promise<unknown>]> = [
  ["catalog.album", () => victim.call(catalogContract, "album", { albumId: input.calls.albumId })],
  ["search.query", () => victim.call(searchContract, "query", { q: "trac" })],
  ["playlist.get", () => victim.call(playlistContract, "get", { playlistId: input.calls.playlistId })],
  ["catalog.artists", () => victim.call(catalogContract, "artists", { limit: 50 })],
];
process.stdout.write("ready\n");
const samples: number[] = [];
const errors: Record<string, number> = {};
// As a person clicking through the player does: requests on a fixed schedule, round-robin over the calls; a late
// answer delays the next request.
const firstMs = performance.now();
for (let i = 0; performance.now() - firstMs < input.durationMs; i++) {
  const dueMs = firstMs + i * input.intervalMs;
  if (dueMs > performance.now())
    await new Promise((resolve) => setTimeout(resolve, dueMs - performance.now()));
  const [method, call] = calls[i % calls.length]!;
  const started = performance.now();
  try {
    await call();
  } catch (error) {
    const code = `${method}: ${(error as { code?: string }).code ?? String(error)}`;
    errors[code] = (errors[code] ?? 0) + 1;
  }
  samples.push(performance.now() - started);
}
await victim.close();
process.stdout.write(`${JSON.stringify({ samples, errors })}\n`);
