// Scan benchmark: tracks per second on a generated 10,000-track MP3 library, first scan and no-change rescan.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb } from "@soundmesh/db";
import { CatalogStore, migrateCatalogStore, scanLibrary } from "@soundmesh/service-catalog";
import { writeToneSync } from "@soundmesh/test-kit";
import { printTable, round, writeResults, type Row } from "./report";

const TRACKS = Number(process.env.BENCH_SCAN_TRACKS ?? 10_000);
const PER_ALBUM = 10;
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-scan-"));

/** An ID3v2.3 tag with Latin-1 text frames; each copy of a base file gets its own, so every file differs. */
function id3(frames: Record<string, string>): Buffer {
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

function withoutId3(file: Buffer): Buffer {
  if (file.subarray(0, 3).toString("latin1") !== "ID3") return file;
  const size = (file[6]! << 21) | (file[7]! << 14) | (file[8]! << 7) | file[9]!;
  return file.subarray(10 + size);
}

function makeLibrary(root: string): void {
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

const root = join(work, "library");
let started = performance.now();
makeLibrary(root);
const generateS = (performance.now() - started) / 1000;
const db = createDb({ kind: "sqlite", file: join(work, "bench.db") });
await migrateCatalogStore(db);
const store = new CatalogStore(db);
const rows: Row[] = [];
for (const label of ["first scan", "no-change rescan"]) {
  started = performance.now();
  const result = await scanLibrary({ roots: [root], store, nowMs: Date.now });
  const seconds = (performance.now() - started) / 1000;
  rows.push({
    scan: label,
    tracks: TRACKS,
    seconds: round(seconds, 2),
    "tracks/s": Math.round(TRACKS / seconds),
    added: result.added,
    unchanged: result.unchanged,
    errors: result.errors,
  });
}
await db.close();
rmSync(work, { recursive: true, force: true });
printTable(
  `Library scan: ${TRACKS} MP3 tracks (ID3v2.3), SQLite, 4 files read at once (library generated in ${round(generateS, 1)} s)`,
  rows,
);
writeResults("scan", rows, { tracks: TRACKS });
