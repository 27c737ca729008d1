// `soundmesh cluster`'s supervisor: when a service process dies it is started again after a back-off that doubles
// with each fast failure in a row (a run shorter than `stableAfterMs`, or a start that never got ready) and goes
// back to the first delay once a run lasted; after `maxFastFailures` in a row the process is given up on.
import { z } from "zod";

export const restartPolicySchema = z
  .object({
    /** The first restart's delay; each fast failure in a row doubles it. */
    initialDelayMs: z.number().int().min(0).max(60_000).default(500),
    /** The longest delay between two restarts. */
    maxDelayMs: z.number().int().min(0).max(600_000).default(30_000),
    /** A run at least this long was not a fast failure: the count and the delay start again. */
    stableAfterMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    /** Fast failures in a row after which the process is not started again. */
    maxFastFailures: z.number().int().min(1).max(100).default(5),
  })
  .strict();

export type RestartPolicy = z.infer<typeof restartPolicySchema>;

export const defaultRestartPolicy: RestartPolicy = restartPolicySchema.parse({});

export interface ProcessExit {
  /** The process that exited. */
  pid: number;
  code: number | null;
  signal: string | null;
  /** ISO time of the exit. */
  at: string;
  /** How long the process ran from its ready line, or how long its start took when it never got ready. */
  ranMs: number;
  /** It exited before saying it was ready. */
  beforeReady: boolean;
}

/** What the supervisor does after an exit: start again after `delayMs`, or give up. */
export type RestartDecision =
  { action: "restart"; delayMs: number; fastFailures: number } | { action: "give-up"; fastFailures: number };

/** The decision for one process; it keeps the count of fast failures in a row. */
export class RestartBackoff {
  private fastFailures = 0;

  constructor(private readonly policy: RestartPolicy) {}

  afterExit(exit: Pick<ProcessExit, "ranMs" | "beforeReady">): RestartDecision {
    if (!exit.beforeReady && exit.ranMs >= this.policy.stableAfterMs) this.fastFailures = 0;
    this.fastFailures += 1;
    if (this.fastFailures >= this.policy.maxFastFailures) {
      return { action: "give-up", fastFailures: this.fastFailures };
    }
    const delayMs = Math.min(
      this.policy.maxDelayMs,
      this.policy.initialDelayMs * 2 ** (this.fastFailures - 1),
    );
    return { action: "restart", delayMs, fastFailures: this.fastFailures };
  }
}

/** How an exit reads in a log line: the signal, else the code. */
export const describeExit = (exit: Pick<ProcessExit, "code" | "signal" | "beforeReady">): string =>
  `${exit.beforeReady ? "failed to start: " : ""}exited (${exit.signal ?? exit.code})`;
