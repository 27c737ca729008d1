// The network sample: a process's TCP sockets from /proc/<pid>/net/tcp{,6}, matched to the process through the
// socket inodes in /proc/<pid>/fd. Linux only; elsewhere the sample is empty and the bus counters stand alone.
import { readFile, readdir, readlink } from "node:fs/promises";
import type { ReportedSocket } from "@soundmesh/protocol";

const STATES: Record<string, ReportedSocket["state"]> = { "01": "established", "0A": "listen" };

/** /proc/net/tcp holds each 32-bit word of an address in host (little-endian) byte order. */
function wordBytes(hex: string): number[] {
  const bytes = [];
  for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

function formatIpv6(bytes: number[]): string {
  const isMapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return bytes.slice(12).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of zero groups (two or more) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  const text =
    bestStart < 0
      ? hex.join(":")
      : `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
  return `[${text}]`;
}

/** "0100007F:1F90" → "127.0.0.1:8080"; IPv6 in brackets, IPv4-mapped IPv6 as plain IPv4. */
export function decodeProcAddress(field: string): string {
  const [hexAddress = "", hexPort = ""] = field.split(":");
  const port = Number.parseInt(hexPort, 16);
  if (hexAddress.length === 8) return `${wordBytes(hexAddress).join(".")}:${port}`;
  const bytes: number[] = [];
  for (let word = 0; word < 4; word++) bytes.push(...wordBytes(hexAddress.slice(word * 8, word * 8 + 8)));
  return `${formatIpv6(bytes)}:${port}`;
}

export interface ProcSocket extends ReportedSocket {
  inode: string;
}

/** Parses the text of /proc/net/tcp or tcp6, keeping listening and established sockets. */
export function parseProcNetTcp(text: string): ProcSocket[] {
  const sockets: ProcSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const state = STATES[fields[3] ?? ""];
    const inode = fields[9];
    if (!state || !inode || fields.length < 10) continue;
    sockets.push({
      local: decodeProcAddress(fields[1]!),
      remote: decodeProcAddress(fields[2]!),
      state,
      inode,
    });
  }
  return sockets;
}

/** The inodes of the sockets process `pid` holds open ("socket:[123]" links in its fd folder). */
export async function socketInodes(pid: number | "self"): Promise<Set<string>> {
  const folder = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch {
    return inodes;
  }
  await Promise.all(
    entries.map(async (entry) => {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(await readlink(`${folder}/${entry}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // Closed between readdir and readlink.
      }
    }),
  );
  return inodes;
}

const readOrEmpty = (path: string) => readFile(path, "utf8").catch(() => "");

/** The listening and established TCP sockets of one process on this host (self by default). */
export async function sampleSockets(pid: number | "self" = "self"): Promise<ReportedSocket[]> {
  const [inodes, tcp4, tcp6] = await Promise.all([
    socketInodes(pid),
    readOrEmpty(`/proc/${pid}/net/tcp`),
    readOrEmpty(`/proc/${pid}/net/tcp6`),
  ]);
  if (inodes.size === 0) return [];
  const seen = new Set<string>();
  const result: ReportedSocket[] = [];
  for (const socket of [...parseProcNetTcp(tcp4), ...parseProcNetTcp(tcp6)]) {
    if (!inodes.has(socket.inode)) continue;
    const key = `${socket.state} ${socket.local} ${socket.remote}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push({ local: socket.local, remote: socket.remote, state: socket.state });
  }
  return result;
}
