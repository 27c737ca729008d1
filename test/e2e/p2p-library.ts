// A small library of longer tracks for P2P tests and the swarm benchmark: sine tones in FLAC, made once per machine.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTone } from "@soundmesh/test-kit";

/**
 * Long enough that the server's window ahead of the playhead (15 s) plus the first piece stay a small part of a
 * track: with 40 s tracks the best possible peer share was about half, so a slow WebRTC handshake on a loaded
 * machine tipped "most bytes from peers" either way.
 */
export const P2P_TRACK_SECONDS = 90;

/** Makes `count` tracks of `seconds` each (tones 40 Hz apart) in a cached folder and returns it. */
export async function generateP2pLibrary(count = 3, seconds = 40): Promise<string> {
  const root = join(tmpdir(), `soundmesh-p2p-library-${count}x${seconds}s`);
  const done = join(root, ".complete");
  if (existsSync(done)) return root;
  mkdirSync(join(root, "Swarm", "Tones"), { recursive: true });
  for (let i = 0; i < count; i++) {
    const file = join(root, "Swarm", "Tones", `${String(i + 1).padStart(2, "0")} Tone ${i + 1}.flac`);
    await writeTone(file, {
      frequency: 220 + i * 40,
      seconds,
      codec: ["-c:a", "flac"],
      tags: { title: `Tone ${i + 1}`, artist: "Swarm", album: "Tones", track: String(i + 1) },
    });
  }
  writeFileSync(done, "");
  return root;
}
