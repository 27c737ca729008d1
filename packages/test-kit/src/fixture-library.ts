// Generates the fixture libraries with ffmpeg: a clean one (several formats with tags, covers, a 2-disc album, a
// compilation, bad files) and one tagged as real collections are (missing album artists, untagged folders, disc
// folders, multi-valued and "feat." artists, genres and years that differ between an album's tracks).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const FIXTURE_VERSION = "2";
const REAL_WORLD_VERSION = "2";

export interface FixtureTrack {
  file: string;
  tags: Record<string, string>;
  seconds: number;
  codec: string[];
  embedCover?: boolean;
  /** FLAC only: Vorbis comments added after encoding, repeated keys allowed (ffmpeg keeps one value per key). */
  extraComments?: Array<[string, string]>;
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

const vorbis = ["-c:a", "libvorbis", "-q:a", "2"];
const flac = ["-c:a", "flac"];
const mp3v24 = ["-c:a", "libmp3lame", "-b:a", "96k", "-id3v2_version", "4"];
const mp3v23 = ["-c:a", "libmp3lame", "-b:a", "96k", "-id3v2_version", "3"];
const aac = ["-c:a", "aac", "-b:a", "96k"];

/** Tags of one album's tracks, less what a track leaves out (a missing album-artist tag, say). */
const tagged = (common: Record<string, string>, own: Record<string, string>, without: string[] = []) =>
  Object.fromEntries(Object.entries({ ...common, ...own }).filter(([key]) => !without.includes(key)));

const tideLines = { artist: "Shiroux Dou", album_artist: "Shiroux Dou", album: "Tide Lines", date: "2019" };
const farFields = {
  artist: "The Kestrels",
  album_artist: "The Kestrels",
  album: "Far Fields",
  genre: "Folk",
};

/**
 * The real-world library, below a library folder named "Music" (a name that must name nothing). Each case of the
 * issue "tags read as people write them" is here; durations are odd fractions of a second, to compare with ffprobe.
 */
export const realWorldTracks: FixtureTrack[] = [
  // An untagged album right below the library folder: album from the folder, no artist left ("Unknown Artist").
  { file: "Quiet Hours/01 - first light.ogg", tags: {}, seconds: 1.37, codec: vorbis },
  { file: "Quiet Hours/02 - noon.opus", tags: {}, seconds: 2.21, codec: ["-c:a", "libopus"] },
  // Untagged, in CD1/CD2 folders below artist and album folders.
  { file: "Lumen Drift/Night Shift/CD1/01 Arrival.flac", tags: {}, seconds: 1.5, codec: flac },
  { file: "Lumen Drift/Night Shift/CD2/01 Departure.flac", tags: {}, seconds: 1.25, codec: flac },
  // Ogg Vorbis album: two tracks lack the album-artist tag, one credits a featured artist; genres and years differ.
  ...[
    ["01 Low Water", { genre: "Ambient", ORIGINALDATE: "2015" }, []],
    ["02 Spring Tide", { genre: "Ambient", ORIGINALDATE: "2015", artist: "Shiroux Dou feat. Mara Lind" }, []],
    ["03 Slack", { genre: "Ambient", ORIGINALDATE: "2015" }, ["album_artist"]],
    ["04 Neap", { genre: "Jazz" }, ["album_artist"]],
  ].map(([name, own, without], i) => ({
    file: `Shiroux Dou/Tide Lines/${name as string}.ogg`,
    tags: tagged(
      tideLines,
      { ...(own as Record<string, string>), title: (name as string).slice(3), track: String(i + 1) },
      without as string[],
    ),
    seconds: 1.1 + i * 0.2,
    codec: vorbis,
  })),
  // MP3 in "Disc 1"/"Disc 2" folders; disc 2's files have neither the album-artist nor the disc tag.
  ...[
    ["Disc 1/01 Morning", { disc: "1", track: "1" }, []],
    ["Disc 1/02 Noon", { disc: "1", track: "2" }, []],
    ["Disc 2/01 Dusk", { track: "1" }, ["album_artist"]],
    ["Disc 2/02 Night", { track: "2" }, ["album_artist"]],
  ].map(([name, own, without]) => ({
    file: `The Kestrels/Far Fields/${name as string}.mp3`,
    tags: tagged(
      farFields,
      { ...(own as Record<string, string>), title: (name as string).slice(10) },
      without as string[],
    ),
    seconds: 1.05,
    codec: mp3v24,
  })),
  // M4A: a compilation with neither album artist nor compilation flag.
  {
    file: "Compilations/Harbour Nights/01 Quay.m4a",
    tags: { title: "Quay", artist: "Alpha Quay", album: "Harbour Nights", track: "1", date: "2012" },
    seconds: 1.3,
    codec: aac,
  },
  {
    file: "Compilations/Harbour Nights/02 Reef.m4a",
    tags: { title: "Reef", artist: "Beta Reef", album: "Harbour Nights", track: "2", date: "2012" },
    seconds: 1.3,
    codec: aac,
  },
  // FLAC with a multi-valued ARTISTS tag (two comments) under an artist tag no separator splits.
  {
    file: "Mara Lind/Duets/01 Together.flac",
    tags: {
      title: "Together",
      artist: "Mara Lind with Tomo",
      album_artist: "Mara Lind",
      album: "Duets",
      track: "1",
    },
    seconds: 1.2,
    codec: flac,
    extraComments: [
      ["ARTISTS", "Mara Lind"],
      ["ARTISTS", "Tomo"],
    ],
  },
  {
    file: "Mara Lind/Duets/02 Alone.flac",
    tags: { title: "Alone", artist: "Mara Lind", album_artist: "Mara Lind", album: "Duets", track: "2" },
    seconds: 1.2,
    codec: flac,
  },
  // MP3 (ID3v2.3) whose artist tag names two artists with ";".
  {
    file: "Tomo/Sketches/01 Draft.mp3",
    tags: { title: "Draft", artist: "Tomo; Ilse Varn", album_artist: "Tomo", album: "Sketches", track: "1" },
    seconds: 1.15,
    codec: mp3v23,
  },
  // An untagged file in the library folder itself: no folder names anything.
  { file: "loose track.mp3", tags: {}, seconds: 1.0, codec: mp3v23 },
];

/** The real-world library's one cover image (a folder image of "Duets"). */
export const REAL_WORLD_COVER = "Mara Lind/Duets/folder.jpg";

/** Appends Vorbis comments to a FLAC file's VORBIS_COMMENT block (metadata blocks carry no checksum). */
function appendFlacComments(file: string, comments: Array<[string, string]>): void {
  const bytes = readFileSync(file);
  if (bytes.subarray(0, 4).toString("latin1") !== "fLaC") throw new Error(`${file} is not FLAC`);
  let at = 4;
  for (;;) {
    const isLast = (bytes[at]! & 0x80) !== 0;
    const type = bytes[at]! & 0x7f;
    const length = bytes.readUIntBE(at + 1, 3);
    if (type === 4) {
      const body = bytes.subarray(at + 4, at + 4 + length);
      const vendorLength = body.readUInt32LE(0);
      const count = body.readUInt32LE(4 + vendorLength);
      const added = comments.map(([key, value]) => {
        const text = Buffer.from(`${key}=${value}`, "utf8");
        const size = Buffer.alloc(4);
        size.writeUInt32LE(text.length);
        return Buffer.concat([size, text]);
      });
      const newCount = Buffer.alloc(4);
      newCount.writeUInt32LE(count + comments.length);
      const newBody = Buffer.concat([
        body.subarray(0, 4 + vendorLength),
        newCount,
        body.subarray(8 + vendorLength),
        ...added,
      ]);
      const header = Buffer.alloc(4);
      header[0] = (isLast ? 0x80 : 0) | 4;
      header.writeUIntBE(newBody.length, 1, 3);
      writeFileSync(
        file,
        Buffer.concat([bytes.subarray(0, at), header, newBody, bytes.subarray(at + 4 + length)]),
      );
      return;
    }
    if (isLast) throw new Error(`${file} has no Vorbis comments`);
    at += 4 + length;
  }
}

export interface RealWorldLibrary {
  /** The library folder, named "Music". */
  root: string;
  audioFiles: number;
}

/** Generates the real-world library once per machine (cached in the temp dir by version). */
export async function generateRealWorldLibrary(
  parent = join(tmpdir(), `soundmesh-real-world-library-v${REAL_WORLD_VERSION}`),
): Promise<RealWorldLibrary> {
  const root = join(parent, "Music");
  const marker = join(parent, ".complete");
  if (!existsSync(marker)) {
    for (const [index, track] of realWorldTracks.entries()) {
      const file = join(root, track.file);
      mkdirSync(dirname(file), { recursive: true });
      const metadata = Object.entries(track.tags).flatMap(([key, value]) => ["-metadata", `${key}=${value}`]);
      await ffmpeg([
        ...["-f", "lavfi", "-i", `sine=frequency=${tone(index)}:duration=${track.seconds}`],
        ...track.codec,
        ...metadata,
        file,
      ]);
      if (track.extraComments) appendFlacComments(file, track.extraComments);
    }
    // One album with art (a folder image); every other album has none, so a client must not ask for theirs.
    await ffmpeg([
      ...["-f", "lavfi", "-i", "color=c=0x33aa66:s=300x300:d=1", "-frames:v", "1"],
      join(root, REAL_WORLD_COVER),
    ]);
    writeFileSync(marker, new Date().toISOString());
  }
  return { root, audioFiles: realWorldTracks.length };
}
