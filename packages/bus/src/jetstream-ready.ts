// Waiting for JetStream: a stream or bucket asked for just after a JetStream cluster's nodes started fails for a
// moment ("no suitable peers for placement" while the peers find each other, no leader yet, a timeout). Each
// process that opens one retries until it answers or a deadline passes, rather than exiting before it is ready.
import { AppError } from "@soundmesh/protocol";

export interface JetStreamWaitOptions {
  /** How long to keep trying (default 60 s). */
  waitMs?: number;
  /** Between tries (default 250 ms). */
  retryMs?: number;
  /** Told of the first failure, once: the process is waiting, not stuck. */
  onWait?: (error: unknown) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `attempt` until it succeeds or the wait has passed; then fails `UNAVAILABLE` naming `what`. */
export async function whenJetStreamReady<T>(
  what: string,
  attempt: () => Promise<T>,
  options: JetStreamWaitOptions = {},
): Promise<T> {
  const waitMs = options.waitMs ?? 60_000;
  const deadline = performance.now() + waitMs;
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (performance.now() > deadline) {
        throw new AppError("UNAVAILABLE", `${what} failed for ${waitMs / 1000} s on NATS`, { cause: error });
      }
      if (tries === 0) options.onWait?.(error);
      await sleep(options.retryMs ?? 250);
    }
  }
}
