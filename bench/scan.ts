// Scan benchmark: tracks per second on generated libraries: 10,000 MP3 tracks (first scan and no-change rescan),
// and full-length Ogg Vorbis and FLAC albums (noise, so the files are as large as real ones).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb } from "@soundmesh/db";
import { SqlCatalogStore, migrateCatalogStore, scanLibrary } from "@soundmesh/service-catalog";
import { writeToneSync } from "@soundmesh/test-kit";
import { printTable, round, writeResults, type Row } from "./report";
import { id3, withoutId3 } from "./tagged-copies";

const TRACKS = Number(process.env.BENCH_SCAN_TRACKS ?? 10_000);
/** Ogg and FLAC tracks each: 3-minute noise, copied from 10 encoded files into albums of 10. */
const LONG_TRACKS = Number(process.env.BENCH_SCAN_LONG_TRACKS ?? 200);
const PER_ALBUM = 10;
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-scan-"));

function makeMp3Library(root: string): void {
  const bases: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    const file = join(work, `base-${i}.mp3`);
    writeToneSync(file, {
      frequency: 200 + i * 20,
      seconds: 2,
      codec: ["-c:a", "libmp3lame", "-b:a", "128k"],
    });
    bases.push(withoutId3(readFileSync(file)));
  }
  for (let n = 0; n < TRACKS; n++) {
    const albumIndex = Math.floor(n / PER_ALBUM);
    const artist = `Artist ${albumIndex % 200}`;
    const album = `Album ${albumIndex}`;
    const track = (n % PER_ALBUM) + 1;
    const dir = join(root, artist, album);
    if (track === 1) mkdirSync(dir, { recursive: true });
    const tag = id3({
      TIT2: `Song ${n}`,
      TPE1: artist,
      TPE2: artist,
      TALB: album,
      TRCK: `${track}/${PER_ALBUM}`,
      TYER: String(1960 + (albumIndex % 60)),
      TCON: ["Rock", "Jazz", "Pop", "Folk"][albumIndex % 4]!,
    });
    writeFileSync(
      join(dir, `${String(track).padStart(2, "0")} Song ${n}.mp3`),
      Buffer.concat([tag, bases[n % bases.length]!]),
    );
  }
}

/** Ten tagged 3-minute noise files in one format, copied into albums of ten (each album's tags repeat). */
function makeLongLibrary(root: string, extension: string, codec: string[]): void {
  const bases = Array.from({ length: PER_ALBUM }, (_, i) => {
    const file = join(work, `base-${i}.${extension}`);
    execFileSync("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"],
      ...["-i", `anoisesrc=duration=180:color=pink:seed=${i + 1}`, "-ac", "2", ...codec],
      ...["-metadata", `title=Noise ${i + 1}`, "-metadata", `track=${i + 1}`, "-metadata", "genre=Noise"],
      file,
    ]);
    return file;
  });
  for (let n = 0; n < LONG_TRACKS; n++) {
    const dir = join(root, `Noise Artist ${Math.floor(n / 100)}`, `Noise Album ${Math.floor(n / PER_ALBUM)}`);
    if (n % PER_ALBUM === 0) mkdirSync(dir, { recursive: true });
    copyFileSync(
      bases[n % PER_ALBUM]!,
      join(dir, `${String((n % PER_ALBUM) + 1).padStart(2, "0")}.${extension}`),
    );
  }
}

async function scanTwice(label: string, root: string, tracks: number, rows: Row[]): Promise<void> {
  const db = createDb({ kind: "sqlite", file: join(work, `${label}.db`) });
  await migrateCatalogStore(db);
  const store = new SqlCatalogStore(db);
  for (const pass of ["first scan", "no-change rescan"]) {
    const started = performance.now();
    const result = await scanLibrary({ roots: [root], store, nowMs: Date.now });
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      library: label,
      scan: pass,
      tracks,
      seconds: round(seconds, 2),
      "tracks/s": Math.round(tracks / seconds),
      added: result.added,
      unchanged: result.unchanged,
      errors: result.errors,
    });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
  await db.close();
}

const rows: Row[] = [];
const generated: Record<string, number> = {};
const libraries: Array<[string, number, (root: string) => void]> = [
  ["MP3 (ID3v2.3, 2 s)", TRACKS, makeMp3Library],
  [
    "Ogg Vorbis (q5, 3 min)",
    LONG_TRACKS,
    (root) => makeLongLibrary(root, "ogg", ["-c:a", "libvorbis", "-q:a", "5"]),
  ],
  ["FLAC (3 min)", LONG_TRACKS, (root) => makeLongLibrary(root, "flac", ["-c:a", "flac"])],
];
for (const [label, tracks, make] of libraries) {
  if (tracks === 0) continue;
  const root = join(work, label.replace(/\W+/g, "-"));
  const started = performance.now();
  make(root);
  generated[label] = round((performance.now() - started) / 1000, 1);
  await scanTwice(label, root, tracks, rows);
  rmSync(root, { recursive: true, force: true });
}
rmSync(work, { recursive: true, force: true });
printTable("Library scan: generated libraries, SQLite, 4 files read at once", rows);
writeResults("scan", rows, { tracks: TRACKS, longTracks: LONG_TRACKS, generatedSeconds: generated });
