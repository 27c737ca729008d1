// Small tagged WAV files written in JavaScript, for tests that need hundreds of distinct audio files at once (ffmpeg
// per file is too slow for that): 8 kHz mono PCM whose samples depend on a seed, so each file's content differs.
import { writeFileSync } from "node:fs";

export interface WavOptions {
  title: string;
  artist: string;
  album: string;
  /** Makes the samples (so the content fingerprint) differ between files. */
  seed: number;
  seconds?: number;
}

function infoChunk(tags: Record<string, string>): Buffer {
  const parts = Object.entries(tags).map(([id, text]) => {
    const value = Buffer.from(`${text}\0`, "utf8");
    const padded = value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.alloc(1)]);
    const header = Buffer.alloc(8);
    header.write(id, 0, "latin1");
    header.writeUInt32LE(value.length, 4);
    return Buffer.concat([header, padded]);
  });
  const body = Buffer.concat([Buffer.from("INFO", "latin1"), ...parts]);
  const header = Buffer.alloc(8);
  header.write("LIST", 0, "latin1");
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** A tagged WAV file's bytes. */
export function wavBytes(options: WavOptions): Buffer {
  const rate = 8_000;
  const samples = Math.round(rate * (options.seconds ?? 1));
  const data = Buffer.alloc(samples * 2);
  const hz = 200 + (options.seed % 800);
  for (let i = 0; i < samples; i++)
    data.writeInt16LE(
      Math.round(8_000 * Math.sin((2 * Math.PI * hz * i) / rate) + (options.seed % 97)),
      i * 2,
    );
  const format = Buffer.alloc(24);
  format.write("fmt ", 0, "latin1");
  format.writeUInt32LE(16, 4);
  format.writeUInt16LE(1, 8);
  format.writeUInt16LE(1, 10);
  format.writeUInt32LE(rate, 12);
  format.writeUInt32LE(rate * 2, 16);
  format.writeUInt16LE(2, 20);
  format.writeUInt16LE(16, 22);
  const dataHeader = Buffer.alloc(8);
  dataHeader.write("data", 0, "latin1");
  dataHeader.writeUInt32LE(data.length, 4);
  const info = infoChunk({ INAM: options.title, IART: options.artist, IPRD: options.album });
  const body = Buffer.concat([Buffer.from("WAVE", "latin1"), format, dataHeader, data, info]);
  const riff = Buffer.alloc(8);
  riff.write("RIFF", 0, "latin1");
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

export function writeWav(file: string, options: WavOptions): string {
  writeFileSync(file, wavBytes(options));
  return file;
}
