// Helper for the benches (not a bench): a generated library of one format, made by ffmpeg from one short base file
// per format copied (stream copy, no re-encoding) into many files, each with its own tags. Cached in the temp dir.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeToneSync } from "@soundmesh/test-kit";

export interface LibraryFormat {
  ext: string;
  /** ffmpeg output options that encode the base file. */
  codec: string[];
  /** ffmpeg output options for the tags of each copy. */
  tagArgs: string[];
}

export const FORMATS = {
  mp3: { ext: "mp3", codec: ["-c:a", "libmp3lame", "-b:a", "128k"], tagArgs: ["-id3v2_version", "3"] },
  ogg: { ext: "ogg", codec: ["-c:a", "libvorbis", "-q:a", "5"], tagArgs: [] },
  flac: { ext: "flac", codec: ["-c:a", "flac"], tagArgs: [] },
  m4a: { ext: "m4a", codec: ["-c:a", "aac", "-b:a", "96k"], tagArgs: [] },
} satisfies Record<string, LibraryFormat>;

const PER_ALBUM = 10;
const OUTPUTS_PER_FFMPEG = 100;

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args], {
      stdio: "inherit",
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  });
}

/** The tags of track `n`: albums of ten, 100 artists, four genres. */
export function tagsOf(n: number): Record<string, string> {
  const album = Math.floor(n / PER_ALBUM);
  const track = (n % PER_ALBUM) + 1;
  return {
    title: `Song ${n}`,
    artist: `Artist ${album % 100}`,
    album_artist: `Artist ${album % 100}`,
    album: `Album ${album}`,
    track: `${track}/${PER_ALBUM}`,
    date: String(1960 + (album % 60)),
    genre: ["Rock", "Jazz", "Pop", "Folk"][album % 4]!,
  };
}

/**
 * `tracks` files of `formats` (album by album in turn, so an album has one format), in folders
 * "Artist a/Album b/NN Song n.ext", made once per machine under `name` in the temp dir and reused while complete.
 */
export async function taggedLibrary(
  name: string,
  tracks: number,
  formats: readonly LibraryFormat[],
  seconds = 1,
): Promise<string> {
  const root = join(tmpdir(), `soundmesh-bench-${name}-${tracks}`);
  if (existsSync(join(root, ".complete"))) return root;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const bases = formats.map((format, i) =>
    writeToneSync(join(root, `.base.${format.ext}`), {
      frequency: 220 + i * 55,
      seconds,
      codec: format.codec,
    }),
  );
  const jobs: string[][] = [];
  for (let start = 0; start < tracks; start += OUTPUTS_PER_FFMPEG) {
    const format = Math.floor(start / PER_ALBUM) % formats.length;
    const args = ["-i", bases[format]!];
    for (let n = start; n < Math.min(tracks, start + OUTPUTS_PER_FFMPEG); n++) {
      const album = Math.floor(n / PER_ALBUM);
      const track = (n % PER_ALBUM) + 1;
      const dir = join(root, `Artist ${album % 100}`, `Album ${album}`);
      mkdirSync(dir, { recursive: true });
      args.push("-map", "0:a", "-c", "copy", ...formats[format]!.tagArgs);
      for (const [key, value] of Object.entries(tagsOf(n))) args.push("-metadata", `${key}=${value}`);
      args.push(join(dir, `${String(track).padStart(2, "0")} Song ${n}.${formats[format]!.ext}`));
    }
    jobs.push(args);
  }
  // Every album of a batch has the same format, since batches start on album boundaries; two ffmpegs at once.
  const running = new Set<Promise<void>>();
  for (const job of jobs) {
    const done: Promise<void> = runFfmpeg(job).finally(() => running.delete(done));
    running.add(done);
    if (running.size >= 2) await Promise.race(running);
  }
  await Promise.all(running);
  for (const format of formats) rmSync(join(root, `.base.${format.ext}`));
  writeFileSync(join(root, ".complete"), new Date().toISOString());
  return root;
}
