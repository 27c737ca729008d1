import { spawn } from "node:child_process";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { fileLog, tempDir } from "./fixtures";

const script = fileURLToPath(new URL("./fixtures/append-forever.ts", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("kill -9 while events are being written", () => {
  it("loses no acknowledged event and leaves no torn line once reopened", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const child = spawn(process.execPath, ["--import", "tsx", script, dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const acknowledged = new Set<string>();
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        if (!line.startsWith("ack ")) return;
        for (const id of line.slice(4).split(",")) acknowledged.add(id);
        // Killed in the middle of a stream of appends: batches are in flight at this moment.
        if (acknowledged.size >= 4_000 && child.exitCode === null && !child.killed) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.once("exit", () => reject(new Error("the writer exited before it was killed")));
    });
    expect(await exited).toBe("SIGKILL");
    // Ids printed after the kill signal was sent were acknowledged too; read what the pipe still held.
    const stored = new Set<string>();
    const log = fileLog(dir, { now: () => Date.now() });
    await log.open();
    await log.close();
    for (const name of readdirSync(dir).filter((file) => file.endsWith(".jsonl"))) {
      const text = readFileSync(join(dir, name), "utf8");
      expect(text.endsWith("\n")).toBe(true);
      for (const line of text.split("\n").filter(Boolean)) {
        const parsed = JSON.parse(line) as { k: string; event?: { id: string } };
        if (parsed.k === "e") stored.add(parsed.event!.id);
      }
    }
    const lost = [...acknowledged].filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(stored.size).toBeGreaterThanOrEqual(acknowledged.size);
  });
});
