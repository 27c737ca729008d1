// The CLI's scan progress: a live bar on a terminal, one line per phase otherwise (logs, CI).
import { SingleBar, Presets } from "cli-progress";
import type { ScanStatus } from "@soundmesh/protocol";

export class ScanProgressBar {
  private readonly bar: SingleBar | undefined;
  private started = false;
  private lastPhase: string | undefined;

  constructor(interactive: boolean) {
    this.bar = interactive
      ? new SingleBar(
          {
            format: "{phase} [{bar}] {value}/{total} files | {errors} unreadable | ETA {eta}s",
            hideCursor: true,
          },
          Presets.shades_classic,
        )
      : undefined;
  }

  update(status: Pick<ScanStatus, "phase" | "done" | "total" | "errors">): void {
    if (!this.bar) {
      if (status.phase !== this.lastPhase)
        console.error(`scan: ${status.phase} (${status.done}/${status.total})`);
      this.lastPhase = status.phase;
      return;
    }
    if (!this.started) {
      this.bar.start(Math.max(status.total, 1), status.done, { phase: status.phase, errors: status.errors });
      this.started = true;
    }
    this.bar.setTotal(Math.max(status.total, 1));
    this.bar.update(status.done, { phase: status.phase.padEnd(7), errors: status.errors });
  }

  stop(): void {
    this.bar?.stop();
  }
}
