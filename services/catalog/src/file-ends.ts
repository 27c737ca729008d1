// The first and last 64 KiB of a file, read once per scanned file: they give its content fingerprint (a moved file
// keeps its track id) and, for Ogg, its length from the last page, so no file is read whole to learn its duration.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";

/** An Ogg page is at most 65,307 bytes, so the last one always starts within this many bytes of the end. */
export const END_SPAN_BYTES = 65_536;

export interface FileEnds {
  head: Buffer;
  tail: Buffer;
  sizeBytes: number;
  /** SHA-256 of the size, the head and the tail. */
  fingerprint: string;
}

/** Where the ends lie in a file: one read of the whole for a file of up to two spans, else the first and last span. */
function layoutOf(sizeBytes: number): { span: number; whole: boolean } {
  return { span: Math.min(END_SPAN_BYTES, sizeBytes), whole: sizeBytes <= 2 * END_SPAN_BYTES };
}

function endsOf(head: Buffer, tail: Buffer, sizeBytes: number): FileEnds {
  const fingerprint = createHash("sha256").update(String(sizeBytes)).update(head).update(tail).digest("hex");
  return { head, tail, sizeBytes, fingerprint };
}

/**
 * Reads the ends: a file of up to two spans in one read (its head and tail are views of it, overlapping when it is
 * shorter), a longer one in two. Bytes a file no longer has (it shrank since its size was taken) are zeros.
 */
export async function readFileEnds(path: string, sizeBytes: number): Promise<FileEnds> {
  const { span, whole } = layoutOf(sizeBytes);
  const handle = await open(path, "r");
  try {
    if (whole) {
      const bytes = Buffer.alloc(sizeBytes);
      await handle.read(bytes, 0, sizeBytes, 0);
      return endsOf(bytes.subarray(0, span), bytes.subarray(sizeBytes - span), sizeBytes);
    }
    const head = Buffer.alloc(span);
    const tail = Buffer.alloc(span);
    await handle.read(head, 0, span, 0);
    await handle.read(tail, 0, span, sizeBytes - span);
    return endsOf(head, tail, sizeBytes);
  } finally {
    await handle.close();
  }
}

/**
 * The same ends read synchronously, for worker threads (scan-workers.ts): blocking one keeps no one else waiting,
 * and a file read this way costs a fraction of the CPU of the promise calls.
 */
export function readFileEndsSync(path: string, sizeBytes: number): FileEnds {
  const { span, whole } = layoutOf(sizeBytes);
  const fd = openSync(path, "r");
  try {
    if (whole) {
      const bytes = Buffer.alloc(sizeBytes);
      readSync(fd, bytes, 0, sizeBytes, 0);
      return endsOf(bytes.subarray(0, span), bytes.subarray(sizeBytes - span), sizeBytes);
    }
    const head = Buffer.alloc(span);
    const tail = Buffer.alloc(span);
    readSync(fd, head, 0, span, 0);
    readSync(fd, tail, 0, span, sizeBytes - span);
    return endsOf(head, tail, sizeBytes);
  } finally {
    closeSync(fd);
  }
}

const CAPTURE = Buffer.from("OggS", "latin1");
const HEADER_BYTES = 27;

interface OggPage {
  start: number;
  end: number;
  granule: bigint;
  serial: number;
  isFirst: boolean;
}

/** The page starting at `at` in `bytes`, or undefined when what is there is not a whole, well-formed page header. */
function pageAt(bytes: Buffer, at: number): OggPage | undefined {
  if (at + HEADER_BYTES > bytes.length || bytes[at + 4] !== 0) return undefined;
  const segments = bytes[at + 26]!;
  if (at + HEADER_BYTES + segments > bytes.length) return undefined;
  let bodyBytes = 0;
  for (let i = 0; i < segments; i++) bodyBytes += bytes[at + HEADER_BYTES + i]!;
  return {
    start: at,
    end: at + HEADER_BYTES + segments + bodyBytes,
    granule: bytes.readBigInt64LE(at + 6),
    serial: bytes.readUInt32LE(at + 14),
    isFirst: (bytes[at + 5]! & 0x02) !== 0,
  };
}

/** Opus counts granules at 48 kHz from before its pre-skip; the OpusHead packet says how many samples that is. */
function opusPreSkip(head: Buffer): number | undefined {
  const at = head.indexOf("OpusHead", 0, "latin1");
  return at >= 0 && at + 12 <= head.length ? head.readUInt16LE(at + 10) : undefined;
}

/**
 * The duration of an Ogg stream from the granule position of its last page: the number of samples decoded by then,
 * divided by the sample rate (48 kHz for Opus, less its pre-skip). Undefined when the ends do not show it (a
 * truncated file, a last page of another stream), so the caller can fall back to reading the file whole.
 */
export function oggDurationSeconds(ends: FileEnds, sampleRate: number | undefined): number | undefined {
  const first = ends.head.subarray(0, CAPTURE.length).equals(CAPTURE) ? pageAt(ends.head, 0) : undefined;
  if (!first?.isFirst) return undefined;
  const preSkip = opusPreSkip(ends.head);
  const rate = preSkip === undefined ? sampleRate : 48_000;
  if (!rate) return undefined;
  let at = ends.tail.lastIndexOf(CAPTURE);
  for (; at >= 0; at = at === 0 ? -1 : ends.tail.lastIndexOf(CAPTURE, at - 1)) {
    const page = pageAt(ends.tail, at);
    // Only a whole page of the first stream counts: bytes that merely look like "OggS" rarely parse to one, and a
    // page cut short by a truncated file ends past the tail.
    if (!page || page.end > ends.tail.length || page.serial !== first.serial || page.granule < 0n) continue;
    const samples = Number(page.granule) - (preSkip ?? 0);
    return samples > 0 ? samples / rate : undefined;
  }
  return undefined;
}
