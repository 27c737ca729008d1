// ffmpeg started ahead of time (the real one, reading the source from stdin): a listener's transcode takes it and
// gets the same audio as a process started on the file, the growing-manifest rules still hold, a replacement waits
// for the next listener, transcode-ahead and offset renditions leave it alone, and a bad source is still refused.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, streamManifest, type StreamManifest } from "@soundmesh/protocol";
import { RenditionStore, defaultProfiles, type SourceInfo } from "@soundmesh/service-storage";
import { TranscodeScheduler, defaultSchedulerConfig } from "../src/transcode-scheduler";
import { writeToneSync } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-warm-"));
const sources = new Map<string, string>();
const PIECE = 4 * 1024;
const CATALOG_MS = 12_000;
const STEPS_MS = CATALOG_MS;
let flac: Buffer;
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(() => {
  const flacPath = writeToneSync(join(work, "tone.flac"), {
    frequency: 440,
    seconds: 12,
    codec: ["-c:a", "flac"],
  });
  flac = readFileSync(flacPath);
  sources.set("flac", flacPath);
  sources.set(
    "flac2",
    writeToneSync(join(work, "tone2.flac"), { frequency: 330, seconds: 12, codec: ["-c:a", "flac"] }),
  );
  sources.set(
    "ogg",
    writeToneSync(join(work, "tone.ogg"), { frequency: 550, seconds: 12, codec: ["-c:a", "libvorbis"] }),
  );
  // Each second its own tone (100 Hz in the first, 200 Hz in the second, ...): where playback starts is audible.
  for (const [trackId, name] of [
    ["steps-flac", "steps.flac"],
    ["steps-ogg", "steps.ogg"],
    ["steps-quote", 'it\'s "steps".flac'],
  ] as const) {
    const path = join(work, name);
    execFileSync("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"],
      `aevalsrc=0.5*sin(2*PI*100*(floor(t)+1)*t):s=44100:d=${STEPS_MS / 1000}`,
      ...(name.endsWith(".ogg") ? ["-c:a", "libvorbis"] : ["-c:a", "flac"]),
      ...["-y", path],
    ]);
    sources.set(trackId, path);
  }
  const garbage = join(work, "garbage.flac");
  writeFileSync(garbage, Buffer.alloc(50_000, 7));
  sources.set("garbage", garbage);
  sources.set("gone", join(work, "no-such-file.flac"));
});

const resolveSource = (trackId: string): Promise<SourceInfo> => {
  const path = sources.get(trackId);
  if (!path) return Promise.reject(new AppError("NOT_FOUND", "No such track"));
  if (path.endsWith(".fifo"))
    return Promise.resolve({ path, sizeBytes: flac.length, mtimeMs: 1, durationMs: CATALOG_MS });
  // A source that vanished after the scan: the catalog still names it.
  if (trackId === "gone") return Promise.resolve({ path, sizeBytes: 1, mtimeMs: 1, durationMs: CATALOG_MS });
  const { size, mtimeMs } = statSync(path);
  return Promise.resolve({ path, sizeBytes: size, mtimeMs, durationMs: CATALOG_MS });
};

function newStore(name: string, warmFfmpeg: boolean, pids?: number[]) {
  const scheduler = new TranscodeScheduler(defaultSchedulerConfig(2), (event) => {
    if (event.type === "started" && event.pid !== undefined) pids?.push(event.pid);
  });
  return new RenditionStore(
    {
      cacheDir: join(work, name),
      capBytes: 50 * 1024 * 1024,
      pieceSizeBytes: PIECE,
      ffmpegPath: "ffmpeg",
      profiles: defaultProfiles,
      waitTimeoutMs: 30_000,
      longPollMs: 20_000,
      warmFfmpeg,
    },
    resolveSource,
    logger,
    scheduler,
  );
}

/** A store with ffmpeg waiting and one without, loaded. */
async function warmAndCold(name: string): Promise<[RenditionStore, RenditionStore]> {
  const stores = [newStore(`warm-${name}`, true), newStore(`cold-${name}`, false)] as const;
  await Promise.all(stores.map((store) => store.load()));
  return [...stores];
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function wholeRendition(
  store: RenditionStore,
  trackId: string,
): Promise<{ manifest: StreamManifest; bytes: Buffer }> {
  const manifest = await store.manifest(trackId, "opus96");
  const pieces: Buffer[] = [];
  for (let index = 0; index < manifest.pieceCount; index++) {
    const { bytes } = await store.piece(trackId, "opus96", index);
    expect(sha(bytes), `piece ${index}`).toBe(manifest.pieceHashes[index]);
    pieces.push(Buffer.from(bytes));
  }
  return { manifest, bytes: Buffer.concat(pieces) };
}

/** The decoded audio, as 16-bit PCM: what a listener hears. */
function decoded(webm: Buffer): Buffer {
  const path = join(work, `decode-${sha(webm).slice(0, 12)}.webm`);
  writeFileSync(path, webm);
  return execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", path, "-f", "s16le", "pipe:1"], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** An offset rendition's bytes, each piece checked against the manifest's hash. */
async function offsetBytes(
  store: RenditionStore,
  trackId: string,
  manifest: StreamManifest,
): Promise<Buffer> {
  expect(manifest.complete).toBe(true);
  const pieces: Buffer[] = [];
  for (let index = 0; index < manifest.pieceCount; index++) {
    const { bytes } = await store.piece(trackId, "opus96", index, undefined, manifest.fromMs);
    expect(sha(bytes), `piece ${index}`).toBe(manifest.pieceHashes[index]);
    pieces.push(Buffer.from(bytes));
  }
  return Buffer.concat(pieces);
}

/** The first audio packet's time in a WebM (ms), as ffprobe reads it. */
function mediaStartMs(webm: Buffer): number {
  const path = join(work, `probe-${sha(webm).slice(0, 12)}.webm`);
  writeFileSync(path, webm);
  const out = execFileSync("ffprobe", [
    ...["-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", path],
  ]).toString();
  return Math.round(Number(out.trim()) * 1000);
}

/** The frequency of mono 48 kHz 16-bit PCM around `atMs` from its start, from its zero crossings. */
function toneAt(pcm: Buffer, atMs: number): number {
  const frame = 2;
  const from = Math.round((atMs - 200) * 48) * frame;
  const to = Math.round((atMs + 200) * 48) * frame;
  let crossings = 0;
  for (let at = from + frame; at < to && at < pcm.length; at += frame)
    if (pcm.readInt16LE(at - frame) < 0 !== pcm.readInt16LE(at) < 0) crossings += 1;
  return crossings / 2 / 0.4;
}

describe("ffmpeg started ahead of time", () => {
  it("gives a listener the same audio as ffmpeg started on the file, FLAC and Ogg Vorbis", async () => {
    const [warm, cold] = await warmAndCold("1");
    try {
      for (const trackId of ["flac", "ogg", "flac2"]) {
        const fromWarm = await wholeRendition(warm, trackId);
        const fromCold = await wholeRendition(cold, trackId);
        expect(fromWarm.bytes.length, trackId).toBe(fromCold.bytes.length);
        // Only the track UID that WebM draws at random for every run differs (8 bytes, written twice at most).
        let differing = 0;
        for (let index = 0; index < fromWarm.bytes.length; index++)
          if (fromWarm.bytes[index] !== fromCold.bytes[index]) differing += 1;
        expect(differing, trackId).toBeLessThanOrEqual(16);
        expect(decoded(fromWarm.bytes).equals(decoded(fromCold.bytes)), trackId).toBe(true);
        expect(Math.abs(fromWarm.manifest.durationMs - fromCold.manifest.durationMs)).toBeLessThanOrEqual(20);
        expect(fromWarm.manifest.durationMs).toBeGreaterThan(11_500);
      }
      // Every one of the three took a waiting process: a replacement was ready for the next listener each time.
      expect(warm.stats().transcodesWarm).toBe(3);
      expect(cold.stats().transcodesWarm).toBe(0);
    } finally {
      warm.close();
      cold.close();
    }
  });

  it("keeps the growing-manifest rules: pieces announced with final hashes as the source arrives", async () => {
    const fifo = join(work, "grow.fifo");
    execFileSync("mkfifo", [fifo]);
    sources.set("grow", fifo);
    const store = newStore("warm-grow", true);
    await store.load();
    try {
      const writer = createWriteStream(fifo);
      const firstPoll = store.manifest("grow", "opus96", undefined, 0);
      writer.write(flac.subarray(0, Math.floor(flac.length / 2)));
      const early = streamManifest.parse(await firstPoll);
      // Half the source is unwritten, so ffmpeg cannot have finished.
      expect(early.complete).toBe(false);
      expect(early.pieceHashes).toHaveLength(early.pieceCount);
      expect(early.durationMs).toBe(CATALOG_MS);
      writer.end(flac.subarray(Math.floor(flac.length / 2)));
      let last = early;
      const seen = [early];
      while (!last.complete) {
        last = await store.manifest("grow", "opus96", undefined, last.pieceCount);
        seen.push(last);
      }
      for (const manifest of seen)
        expect(last.pieceHashes.slice(0, manifest.pieceCount)).toEqual(manifest.pieceHashes);
      const whole = await wholeRendition(store, "grow");
      expect(whole.manifest).toEqual(last);
      expect(store.stats().transcodesWarm).toBe(1);
    } finally {
      store.close();
    }
  });

  it("refuses a source ffmpeg cannot decode or that vanished, and serves the next listener warm", async () => {
    const store = newStore("warm-bad", true);
    await store.load();
    try {
      for (const trackId of ["garbage", "gone"]) {
        const failure = await store
          .manifest(trackId, "opus96", undefined, 0)
          .catch((error: unknown) => error);
        expect(failure, trackId).toBeInstanceOf(AppError);
        expect((failure as AppError).code, trackId).toBe("UNPLAYABLE");
      }
      const good = await wholeRendition(store, "flac");
      expect(good.manifest.complete).toBe(true);
      expect(store.stats().transcodesWarm).toBe(3);
    } finally {
      store.close();
    }
  });

  it("leaves the waiting process to listeners: transcode-ahead starts its own", async () => {
    const store = newStore("warm-ahead", true);
    await store.load();
    try {
      await store.prepare("flac", "opus96");
      expect(store.stats().transcodesStarted).toBe(1);
      expect(store.stats().transcodesWarm).toBe(0);
    } finally {
      store.close();
    }
  });

  it("plays a seek's offset rendition from the right second with a waiting process, hashed like any other", async () => {
    const [warm, cold] = await warmAndCold("offset");
    try {
      for (const trackId of ["steps-flac", "steps-ogg", "steps-quote"]) {
        for (const store of [warm, cold]) {
          const manifest = streamManifest.parse(
            await store.manifest(trackId, "opus96", undefined, undefined, 6_000),
          );
          expect(manifest.fromMs, trackId).toBe(6_000);
          const bytes = await offsetBytes(store, trackId, manifest);
          // Clusters are in track time: the first one at the target's packet (an Ogg page may start before it).
          const firstMs = manifest.seekIndex![0]!.timeMs;
          expect(firstMs, trackId).toBeGreaterThan(4_900);
          expect(firstMs, trackId).toBeLessThanOrEqual(6_000);
          expect(Math.abs(mediaStartMs(bytes) - firstMs), trackId).toBeLessThanOrEqual(25);
          // What is heard at track time t is the source's second floor(t): its tone is 100 Hz × (second + 1).
          const pcm = decoded(bytes);
          for (const atMs of [6_500, 9_500, 11_500]) {
            const hz = toneAt(pcm, atMs - mediaStartMs(bytes));
            expect(
              Math.abs(hz - 100 * (Math.floor(atMs / 1000) + 1)),
              `${trackId} at ${atMs} ms`,
            ).toBeLessThan(15);
          }
          // The whole track's duration, as the catalog read it: the same whichever ffmpeg made the rendition.
          expect(manifest.durationMs, trackId).toBe(CATALOG_MS);
        }
      }
      // Every offset rendition of the warm store took a waiting process, and a replacement was ready each time.
      expect(warm.stats().transcodesWarm).toBe(3);
      expect(cold.stats().transcodesWarm).toBe(0);
    } finally {
      warm.close();
      cold.close();
    }
  });

  it("ends the waiting processes when the store closes", async () => {
    const pids: number[] = [];
    const store = newStore("warm-close", true, pids);
    await store.load();
    await wholeRendition(store, "flac2");
    // The taken process is the scheduler's; its replacement and the other profile's are waiting now.
    const waiting = execFileSync("ps", ["-o", "pid=", "--ppid", String(process.pid)])
      .toString()
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0 && !pids.includes(pid))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("pipe:0");
        } catch {
          return false;
        }
      });
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    store.close();
    await expect
      .poll(() =>
        waiting.filter((pid) => {
          try {
            const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
            return state !== "Z";
          } catch {
            return false;
          }
        }),
      )
      .toEqual([]);
  });
});
