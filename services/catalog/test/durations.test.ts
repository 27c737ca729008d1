// Durations without reading files whole: the scanner's lengths of every format in the real-world library agree with
// ffprobe's, and an Ogg file's comes from its last page (one with damaged middle pages still gets its full length).
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "@soundmesh/db";
import {
  SqlCatalogStore,
  migrateCatalogStore,
  oggDurationSeconds,
  readFileEnds,
  scanLibrary,
} from "@soundmesh/service-catalog";
import {
  generateRealWorldLibrary,
  realWorldTracks,
  writeTone,
  type RealWorldLibrary,
} from "@soundmesh/test-kit";

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "soundmesh-durations-"));
let fixture: RealWorldLibrary;
beforeAll(async () => {
  fixture = await generateRealWorldLibrary();
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function ffprobeSeconds(path: string): Promise<number> {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
  ]);
  return Number(stdout.trim());
}

async function scannedDurations(root: string): Promise<Map<string, number>> {
  const db = createDb({ kind: "sqlite", file: join(work, `${Math.random()}.db`) });
  try {
    await migrateCatalogStore(db);
    const store = new SqlCatalogStore(db);
    const result = await scanLibrary({ roots: [root], store, nowMs: Date.now });
    expect(result.errors).toBe(0);
    const tracks = await store.tracksByIds((await store.fileStates()).map((state) => state.id));
    return new Map(tracks.map((track) => [relative(root, track.path), Number(track.duration_ms)]));
  } finally {
    await db.close();
  }
}

describe("durations", () => {
  it("agree with ffprobe for Ogg Vorbis, Opus, FLAC, MP3 and M4A", async () => {
    const durations = await scannedDurations(fixture.root);
    expect(durations.size).toBe(realWorldTracks.length);
    const formats = new Set<string>();
    for (const track of realWorldTracks) {
      const expectedMs = (await ffprobeSeconds(join(fixture.root, track.file))) * 1000;
      // AAC's priming samples and Opus's pre-skip are counted a little differently by the two; nothing more.
      expect(Math.abs(durations.get(track.file)! - expectedMs), track.file).toBeLessThan(30);
      formats.add(track.file.slice(track.file.lastIndexOf(".")));
    }
    expect([...formats].sort()).toEqual([".flac", ".m4a", ".mp3", ".ogg", ".opus"]);
  });

  it("take an Ogg file's length from its last page, so damaged middle pages do not matter", async () => {
    const root = join(work, "damaged");
    mkdirSync(join(root, "Album"), { recursive: true });
    const file = await writeTone(join(root, "Album", "01 Long.ogg"), {
      frequency: 330,
      seconds: 20.5,
      codec: ["-c:a", "libvorbis"],
      tags: { title: "Long", artist: "Someone", album: "Album" },
    });
    const bytes = readFileSync(file);
    const middle = Math.floor(bytes.length / 2);
    // Zeroes over the middle pages: decoding the whole file would stop there (and used to fail the file).
    writeFileSync(
      file,
      Buffer.concat([bytes.subarray(0, middle), Buffer.alloc(8_192), bytes.subarray(middle + 8_192)]),
    );
    expect((await scannedDurations(root)).get("Album/01 Long.ogg")).toBe(20_500);
  });

  it("give up on ends that show no last page of the first stream, and never misread a truncated one", async () => {
    const file = await writeTone(join(work, "short.ogg"), {
      frequency: 200,
      seconds: 10,
      codec: ["-c:a", "libvorbis"],
    });
    const bytes = readFileSync(file);
    const ends = await readFileEnds(file, bytes.length);
    expect(oggDurationSeconds(ends, 44_100)).toBeCloseTo(10, 2);
    // No sample rate known: no answer rather than a wrong one.
    expect(oggDurationSeconds(ends, undefined)).toBeUndefined();
    // Not an Ogg file at all.
    expect(oggDurationSeconds({ ...ends, head: Buffer.from("ID3\u0004not ogg") }, 44_100)).toBeUndefined();
    // Cut in the middle of its last page: the page before it counts, so the length is a little short, never long.
    const cut = join(work, "cut.ogg");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const cutSeconds = oggDurationSeconds(await readFileEnds(cut, bytes.length - 100), 44_100);
    expect(cutSeconds).toBeLessThan(10);
    expect(cutSeconds).toBeGreaterThan(5);
  });
});
