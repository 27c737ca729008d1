// Generates the fixture library with ffmpeg: several formats with tags, covers, a 2-disc album, a compilation, bad files.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const FIXTURE_VERSION = "2";

export interface FixtureTrack {
  file: string;
  tags: Record<string, string>;
  seconds: number;
  codec: string[];
  embedCover?: boolean;
}

const tone = (index: number) => 220 + index * 37;

export const fixtureTracks: FixtureTrack[] = [
  // A tagged FLAC album with a folder cover.jpg.
  ...["Svefn-g-englar", "Starálfur"].map((title, i) => ({
    file: `Sigur Rós/Ágætis byrjun/0${i + 1} ${title}.flac`,
    tags: {
      title,
      artist: "Sigur Rós",
      album_artist: "Sigur Rós",
      album: "Ágætis byrjun",
      date: "1999",
      genre: "Post-Rock",
      track: `${i + 1}/2`,
      MUSICBRAINZ_TRACKID: `0000000${i}-aaaa-bbbb-cccc-dddddddddddd`,
      REPLAYGAIN_TRACK_GAIN: "-6.50 dB",
      REPLAYGAIN_ALBUM_GAIN: "-7.00 dB",
    },
    seconds: 2,
    codec: ["-c:a", "flac"],
  })),
  // A two-disc MP3 album with an embedded cover.
  ...[1, 2].flatMap((disc) =>
    [1, 2].map((track) => ({
      file: `The Testers/Double Album/CD${disc}/0${track} Disc ${disc} Song ${track}.mp3`,
      tags: {
        title: `Disc ${disc} Song ${track}`,
        artist: "The Testers",
        album_artist: "The Testers",
        album: "Double Album",
        date: "2004",
        genre: "Rock",
        track: `${track}/2`,
        disc: `${disc}/2`,
      },
      seconds: 1,
      codec: ["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "3"],
      embedCover: true,
    })),
  ),
  // A compilation in Ogg Vorbis and Opus, with different track artists.
  {
    file: "Compilations/Summer Hits/01 Sunny.ogg",
    tags: {
      title: "Sunny",
      artist: "Alpha",
      album: "Summer Hits",
      compilation: "1",
      date: "2010",
      genre: "Pop",
      track: "1",
    },
    seconds: 1,
    codec: ["-c:a", "libvorbis"],
  },
  {
    file: "Compilations/Summer Hits/02 Breezy.opus",
    tags: {
      title: "Breezy",
      artist: "Beta",
      album: "Summer Hits",
      compilation: "1",
      date: "2010",
      genre: "Pop",
      track: "2",
    },
    seconds: 1,
    codec: ["-c:a", "libopus"],
  },
  // M4A/AAC, WAV and AIFF singles; the WAV and AIFF are untagged.
  {
    file: "Solo Artist/Single/01 Only Song.m4a",
    tags: {
      title: "Only Song",
      artist: "Solo Artist",
      album: "Single",
      date: "2020",
      genre: "Jazz",
      track: "1",
    },
    seconds: 1,
    codec: ["-c:a", "aac"],
  },
  {
    file: "Field Recordings/Untagged Set/03 - morning birds.wav",
    tags: {},
    seconds: 1,
    codec: ["-c:a", "pcm_s16le"],
  },
  {
    file: "Field Recordings/Untagged Set/04 evening_rain.aiff",
    tags: {},
    seconds: 1,
    codec: ["-c:a", "pcm_s16be"],
  },
];

export interface FixtureLibrary {
  root: string;
  audioFiles: number;
  /** Files a scan must report and skip, with the reason fragment expected. */
  badFiles: Array<{ file: string; reason: string }>;
}

async function ffmpeg(args: string[]): Promise<void> {
  await run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
}

/** Generates the library once per machine (cached in the temp dir by version) and returns where it is. */
export async function generateFixtureLibrary(
  root = join(tmpdir(), `soundmesh-fixture-library-v${FIXTURE_VERSION}`),
): Promise<FixtureLibrary> {
  const badFiles = [
    { file: "Broken/corrupt.mp3", reason: "" },
    { file: "Broken/empty.flac", reason: "empty" },
    { file: "Broken/notes.txt", reason: "not an audio file" },
  ];
  const marker = join(root, ".complete");
  if (!existsSync(marker)) {
    const cover = join(root, ".cover-source.jpg");
    mkdirSync(root, { recursive: true });
    await ffmpeg(["-f", "lavfi", "-i", "color=c=0x3366cc:s=320x320:d=1", "-frames:v", "1", cover]);
    for (const [index, track] of fixtureTracks.entries()) {
      const file = join(root, track.file);
      mkdirSync(dirname(file), { recursive: true });
      const metadata = Object.entries(track.tags).flatMap(([key, value]) => ["-metadata", `${key}=${value}`]);
      const inputs = ["-f", "lavfi", "-i", `sine=frequency=${tone(index)}:duration=${track.seconds}`];
      if (track.embedCover) {
        await ffmpeg([
          ...inputs,
          "-i",
          cover,
          "-map",
          "0:a",
          "-map",
          "1:v",
          "-c:v",
          "mjpeg",
          "-disposition:v",
          "attached_pic",
          ...track.codec,
          ...metadata,
          file,
        ]);
      } else {
        await ffmpeg([...inputs, ...track.codec, ...metadata, file]);
      }
    }
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "color=c=0xcc3333:s=400x400:d=1",
      "-frames:v",
      "1",
      join(root, "Sigur Rós/Ágætis byrjun/cover.jpg"),
    ]);
    mkdirSync(join(root, "Broken"), { recursive: true });
    writeFileSync(
      join(root, "Broken/corrupt.mp3"),
      Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x00]), Buffer.alloc(4096, 0x55)]),
    );
    writeFileSync(join(root, "Broken/empty.flac"), "");
    writeFileSync(join(root, "Broken/notes.txt"), "liner notes, not music\n");
    writeFileSync(marker, new Date().toISOString());
  }
  return { root, audioFiles: fixtureTracks.length, badFiles };
}

/** Debian's sound-theme-freedesktop: real, untagged Ogg files (skipped loudly when absent and CI is unset). */
export const freedesktopSounds = "/usr/share/sounds/freedesktop/stereo";
