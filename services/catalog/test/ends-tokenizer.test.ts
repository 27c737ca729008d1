// Tags read from a file's two ends (ends-tokenizer.ts) are music-metadata's own parse of the whole file: the same
// common tags, native tags, format and pictures for every fixture file, a picture larger than the ends read from the
// file between them, and a file that shrank after its ends were read never yields bytes it no longer has.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFile } from "music-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateFixtureLibrary, generateRealWorldLibrary } from "@soundmesh/test-kit";
import { END_SPAN_BYTES, readFileEnds } from "../src/file-ends";
import { parseFileEnds } from "../src/ends-tokenizer";
import { AUDIO_EXTENSIONS } from "../src/tags";

const work = mkdtempSync(join(tmpdir(), "soundmesh-ends-tokenizer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ffmpeg = (args: string[]) =>
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);

function audioFilesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && AUDIO_EXTENSIONS.has(entry.name.slice(entry.name.lastIndexOf("."))))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => statSync(path).size > 0);
}

async function bothWays(path: string) {
  const options = { duration: false, skipCovers: false };
  const ends = await readFileEnds(path, statSync(path).size);
  const [whole, fromEnds] = await Promise.all([parseFile(path, options), parseFileEnds(path, ends, options)]);
  return { whole, fromEnds };
}

let files: string[] = [];
/** An MP3 whose ID3 tag holds a picture of noise larger than both ends together. */
const pictured = join(work, "with-picture.mp3");
const picture = join(work, "noise.png");
beforeAll(async () => {
  ffmpeg(["-f", "lavfi", "-i", "nullsrc=s=400x400,geq=random(1)*255:128:128", "-frames:v", "1", picture]);
  ffmpeg([
    ...["-f", "lavfi", "-i", "sine=frequency=440:duration=30", "-i", picture],
    ...["-map", "0:a", "-map", "1:v", "-c:v", "copy", "-disposition:v", "attached_pic"],
    ...["-c:a", "libmp3lame", "-id3v2_version", "3", "-metadata", "title=Pictured", pictured],
  ]);
  const [fixture, realWorld] = await Promise.all([generateFixtureLibrary(), generateRealWorldLibrary()]);
  files = [...audioFilesUnder(fixture.root), ...audioFilesUnder(realWorld.root)].filter(
    (path) => !path.includes("/Broken/"),
  );
}, 120_000);

describe("music-metadata through the ends of a file", () => {
  it("reads what parseFile reads from every fixture file (MP3, Ogg, Opus, FLAC, M4A, WAV, AIFF)", async () => {
    expect(files.length).toBeGreaterThan(20);
    const extensions = new Set(files.map((path) => path.slice(path.lastIndexOf("."))));
    for (const extension of [".mp3", ".ogg", ".opus", ".flac", ".m4a"])
      expect(extensions).toContain(extension);
    for (const path of files) {
      const { whole, fromEnds } = await bothWays(path);
      expect(fromEnds.common, path).toEqual(whole.common);
      expect(fromEnds.native, path).toEqual(whole.native);
      expect(fromEnds.format, path).toEqual(whole.format);
    }
  }, 120_000);

  it("reads an embedded picture larger than the ends from the file between them", async () => {
    expect(statSync(picture).size).toBeGreaterThan(2 * END_SPAN_BYTES);
    const { whole, fromEnds } = await bothWays(pictured);
    expect(fromEnds.bytesFromFile).toBeGreaterThan(END_SPAN_BYTES);
    expect(fromEnds.common.title).toBe("Pictured");
    expect(fromEnds.common.picture?.[0]?.data.length).toBe(statSync(picture).size);
    expect(fromEnds.common).toEqual(whole.common);
    expect(fromEnds.format).toEqual(whole.format);
  }, 60_000);

  it("answers small files from memory alone", async () => {
    const small = files.find((path) => statSync(path).size <= END_SPAN_BYTES)!;
    expect(small).toBeDefined();
    expect((await bothWays(small)).fromEnds.bytesFromFile).toBe(0);
  });

  it("never fills a picture with bytes a file cut short after its ends were read no longer has", async () => {
    const path = join(work, "cut.mp3");
    copyFileSync(pictured, path);
    const ends = await readFileEnds(path, statSync(path).size);
    truncateSync(path, END_SPAN_BYTES + 1000);
    // The tag ends early, so music-metadata keeps none of it (parseFile on the cut file refuses it too); the scan
    // records the file as unreadable and reads it again next time, as its size changed.
    const metadata = await parseFileEnds(path, ends, { duration: false, skipCovers: false });
    expect(metadata.common.picture).toBeUndefined();
    expect(metadata.common.title).toBeUndefined();
    await expect(parseFile(path, { duration: false, skipCovers: false })).rejects.toThrow(/exceeds/);
  });
});
