// Makes a small demo library with ffmpeg (synthesised, tagged tracks and covers) for a first start with no music folder.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { AppError } from "@soundmesh/protocol";

const run = promisify(execFile);
const VERSION = "1";

interface DemoTrack {
  title: string;
  artist?: string;
  /** Base frequency (Hz) and a note pattern that makes each track sound different. */
  baseHz: number;
  steps: number[];
  seconds: number;
}

interface DemoAlbum {
  folder: string;
  album: string;
  albumArtist: string;
  year: number;
  genre: string;
  extension: "flac" | "mp3" | "opus" | "m4a";
  compilation?: boolean;
  coverColors: [string, string];
  tracks: DemoTrack[];
}

const albums: DemoAlbum[] = [
  {
    folder: "The Sine Waves/Pure Tones",
    album: "Pure Tones",
    albumArtist: "The Sine Waves",
    year: 2019,
    genre: "Electronic",
    extension: "flac",
    coverColors: ["0x1db954", "0x191414"],
    tracks: [
      { title: "Concert A", baseHz: 220, steps: [0, 4, 7, 12], seconds: 34 },
      { title: "Minor Drift", baseHz: 196, steps: [0, 3, 7, 10], seconds: 41 },
      { title: "Fifths All the Way Down", baseHz: 261.6, steps: [0, 7, 14, 7], seconds: 29 },
      { title: "Hum of the Server Room", baseHz: 110, steps: [0, 0, 5, 7], seconds: 45 },
    ],
  },
  {
    folder: "Ada & the Oscillators/Square Dance",
    album: "Square Dance",
    albumArtist: "Ada & the Oscillators",
    year: 2021,
    genre: "Chiptune",
    extension: "mp3",
    coverColors: ["0xff6f61", "0x6b5b95"],
    tracks: [
      { title: "Eight Bits of Summer", baseHz: 330, steps: [0, 4, 7, 11, 12, 7], seconds: 31 },
      { title: "Carry Flag", baseHz: 293.7, steps: [0, 5, 9, 12], seconds: 27 },
      { title: "Overflow", baseHz: 246.9, steps: [0, 2, 4, 5, 7, 9, 11, 12], seconds: 38 },
    ],
  },
  {
    folder: "Loopback Sessions",
    album: "Loopback Sessions",
    albumArtist: "Various Artists",
    year: 2023,
    genre: "Ambient",
    extension: "opus",
    compilation: true,
    coverColors: ["0x2e86ab", "0xf6f5ae"],
    tracks: [
      { title: "127.0.0.1", artist: "Localhost", baseHz: 174.6, steps: [0, 7, 12, 19], seconds: 44 },
      { title: "Gapless", artist: "Mira Kettunen", baseHz: 207.7, steps: [0, 5, 10, 15], seconds: 36 },
      { title: "Peer to Peer", artist: "The Sine Waves", baseHz: 155.6, steps: [0, 3, 8, 12], seconds: 40 },
    ],
  },
];

/** An arpeggio: each step lasts half a second, with a soft envelope so notes don't click. */
function expressionOf(track: DemoTrack): string {
  const notes = track.steps.map((step) => (track.baseHz * 2 ** (step / 12)).toFixed(2));
  const pick = notes.reduceRight(
    (inner, hz, i) => `if(eq(mod(floor(t*2),${notes.length}),${i}),${hz},${inner})`,
    notes[0]!,
  );
  const envelope = "(0.6+0.4*sin(PI*mod(t*2,1)))";
  return `0.18*${envelope}*(sin(2*PI*${pick}*t)+0.3*sin(4*PI*${pick}*t))`;
}

async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new AppError(
        "DEPENDENCY_MISSING",
        "ffmpeg is needed to make the demo library: apt-get install ffmpeg",
        { cause: error },
      );
    }
    throw error;
  }
}

const codecArgs: Record<DemoAlbum["extension"], string[]> = {
  flac: ["-c:a", "flac"],
  mp3: ["-c:a", "libmp3lame", "-b:a", "192k", "-id3v2_version", "3"],
  opus: ["-c:a", "libopus", "-b:a", "128k"],
  m4a: ["-c:a", "aac", "-b:a", "192k"],
};

export interface DemoProgress {
  done: number;
  total: number;
  title: string;
}

/** Creates the demo library in `directory` once (a marker file records the version); returns the folder. */
export async function ensureDemoLibrary(
  directory: string,
  onProgress?: (progress: DemoProgress) => void,
): Promise<string> {
  const marker = join(directory, `.soundmesh-demo-v${VERSION}`);
  if (existsSync(marker)) return directory;
  const total = albums.reduce((sum, album) => sum + album.tracks.length, 0);
  let done = 0;
  for (const album of albums) {
    const folder = join(directory, album.folder);
    mkdirSync(folder, { recursive: true });
    const [from, to] = album.coverColors;
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      `gradients=s=600x600:c0=${from}:c1=${to}:duration=1:speed=0.01:seed=7`,
      "-frames:v",
      "1",
      join(folder, "cover.jpg"),
    ]);
    for (const [index, track] of album.tracks.entries()) {
      const file = join(folder, `${String(index + 1).padStart(2, "0")} ${track.title}.${album.extension}`);
      const tags: Record<string, string> = {
        title: track.title,
        artist: track.artist ?? album.albumArtist,
        album_artist: album.albumArtist,
        album: album.album,
        date: String(album.year),
        genre: album.genre,
        track: `${index + 1}/${album.tracks.length}`,
        disc: "1/1",
        ...(album.compilation ? { compilation: "1" } : {}),
      };
      const metadata = Object.entries(tags).flatMap(([key, value]) => ["-metadata", `${key}=${value}`]);
      await ffmpeg([
        "-f",
        "lavfi",
        "-i",
        `aevalsrc='${expressionOf(track)}':s=48000:d=${track.seconds}`,
        "-af",
        "afade=t=in:d=0.5,areverse,afade=t=in:d=1.5,areverse",
        ...codecArgs[album.extension],
        ...metadata,
        file,
      ]);
      done += 1;
      onProgress?.({ done, total, title: track.title });
    }
  }
  writeFileSync(marker, new Date().toISOString());
  return directory;
}
