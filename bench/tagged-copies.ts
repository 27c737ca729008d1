// Big generated libraries for the benches: a few short MP3s encoded once with ffmpeg, then copied with a fresh ID3v2.3
// tag written in front of each copy, so 100,000 distinct tracks take a minute or two and ~400 MB, not an hour.
// With covers, one album in ten has a folder cover.jpg. A library is kept under the system's temporary folder by size and reused
// by later runs (delete it to rebuild).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { writeToneSync } from "@soundmesh/test-kit";

/** An ID3v2.3 tag with Latin-1 text frames; each copy of a base file gets its own, so every file differs. */
export function id3(frames: Record<string, string>): Buffer {
  const body = Buffer.concat(
    Object.entries(frames).map(([id, text]) => {
      const data = Buffer.concat([Buffer.from([0]), Buffer.from(text, "latin1")]);
      const header = Buffer.alloc(10);
      header.write(id, 0, "latin1");
      header.writeUInt32BE(data.length, 4);
      return Buffer.concat([header, data]);
    }),
  );
  const size = body.length;
  const syncsafe = Buffer.from([(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([Buffer.from("ID3"), Buffer.from([3, 0, 0]), syncsafe, body]);
}

/** The audio of an MP3 file without its leading ID3v2 tag. */
export function withoutId3(file: Buffer): Buffer {
  if (file.subarray(0, 3).toString("latin1") !== "ID3") return file;
  const size = (file[6]! << 21) | (file[7]! << 14) | (file[8]! << 7) | file[9]!;
  return file.subarray(10 + size);
}

export interface TaggedLibrary {
  root: string;
  tracks: number;
  albums: number;
  /** Albums with a folder cover.jpg (every tenth). */
  albumsWithCover: number;
  /** Seconds spent making it in this run (0 when an earlier run's library was reused). */
  generatedSeconds: number;
}

const TRACKS_PER_ALBUM = 10;
/** Albums per album artist; one track in seven credits a second artist ("A feat. B"), so artists appear on others' albums. */
const ALBUMS_PER_ARTIST = 5;
const GENRES = [
  "Rock",
  "Jazz",
  "Pop",
  "Folk",
  "Electronic",
  "Classical",
  "Hip-Hop",
  "Soul",
  "Metal",
  "Ambient",
];

/** The tags of track `n` of a generated library: albums of ten, five albums per artist, years 1960–2019. */
export function tagsOf(n: number): Record<string, string> {
  const albumIndex = Math.floor(n / TRACKS_PER_ALBUM);
  const artistIndex = Math.floor(albumIndex / ALBUMS_PER_ARTIST);
  const artist = `Artist ${artistIndex}`;
  const guest = `Artist ${(artistIndex * 7 + 3) % Math.max(1, artistIndex + 1)}`;
  const track = (n % TRACKS_PER_ALBUM) + 1;
  return {
    TIT2: `Song ${n}`,
    TPE1: n % 7 === 3 && guest !== artist ? `${artist} feat. ${guest}` : artist,
    TPE2: artist,
    TALB: `Album ${albumIndex}`,
    TRCK: `${track}/${TRACKS_PER_ALBUM}`,
    TYER: String(1960 + (albumIndex % 60)),
    TCON: GENRES[albumIndex % GENRES.length]!,
  };
}

/** A 500×500 JPEG (an ffmpeg test pattern) for the albums with a cover. */
function coverImage(work: string): Buffer {
  const file = join(work, "cover.jpg");
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"],
    ...["-i", "testsrc2=size=500x500", "-frames:v", "1", file],
  ]);
  return readFileSync(file);
}

function baseFiles(work: string): Buffer[] {
  return Array.from({ length: 3 }, (_, i) => {
    const file = join(work, `base-${i}.mp3`);
    // One second of mono at 32 kbit/s: about 4 KiB of audio per copy.
    writeToneSync(file, {
      frequency: 220 + i * 110,
      seconds: 1,
      codec: ["-ac", "1", "-c:a", "libmp3lame", "-b:a", "32k"],
    });
    return withoutId3(readFileSync(file));
  });
}

/**
 * A library of `tracks` tagged MP3 copies in `Artist/Album/NN Song.mp3` folders, made once and kept at
 * `<tmp>/soundmesh-bench-libraries/mp3-<tracks>` (a `.complete` file marks a finished one).
 */
export function taggedLibrary(tracks: number, { covers = true } = {}): TaggedLibrary {
  const parent = join(process.env.SOUNDMESH_BENCH_LIBRARIES ?? join(tmpdir(), "soundmesh-bench-libraries"));
  const root = join(parent, covers ? `mp3-v2-${tracks}` : `mp3-${tracks}`);
  const albums = Math.ceil(tracks / TRACKS_PER_ALBUM);
  const albumsWithCover = covers ? Math.ceil(albums / 10) : 0;
  if (existsSync(join(root, ".complete")))
    return { root, tracks, albums, albumsWithCover, generatedSeconds: 0 };
  const started = performance.now();
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const bases = baseFiles(building);
  const cover = covers ? coverImage(building) : undefined;
  for (let n = 0; n < tracks; n++) {
    const tags = tagsOf(n);
    const dir = join(building, tags.TPE2!, tags.TALB!);
    const albumIndex = Math.floor(n / TRACKS_PER_ALBUM);
    if (n % TRACKS_PER_ALBUM === 0) mkdirSync(dir, { recursive: true });
    if (cover && n % TRACKS_PER_ALBUM === 0 && albumIndex % 10 === 0)
      writeFileSync(join(dir, "cover.jpg"), cover);
    const number = String((n % TRACKS_PER_ALBUM) + 1).padStart(2, "0");
    writeFileSync(
      join(dir, `${number} ${tags.TIT2}.mp3`),
      Buffer.concat([id3(tags), bases[n % bases.length]!]),
    );
  }
  for (let i = 0; i < bases.length; i++) rmSync(join(building, `base-${i}.mp3`));
  rmSync(join(building, "cover.jpg"), { force: true });
  writeFileSync(join(building, ".complete"), "");
  rmSync(root, { recursive: true, force: true });
  renameSync(building, root);
  return { root, tracks, albums, albumsWithCover, generatedSeconds: (performance.now() - started) / 1000 };
}
