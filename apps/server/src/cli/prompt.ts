// Reads a password for CLI commands: from stdin when piped (or --password-stdin), else a hidden prompt on the terminal.
import { createInterface } from "node:readline";
import { Writable } from "node:stream";

export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

export async function promptPassword(question: string): Promise<string> {
  if (!process.stdin.isTTY) return readPasswordFromStdin();
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stdout.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => resolve(answer));
      muted = true;
    });
  } finally {
    rl.close();
    process.stdout.write("\n");
  }
}
