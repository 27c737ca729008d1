// One read of another service's figures per /metrics scrape, shared by every metric that shows them.
import type { Logger } from "pino";

/**
 * The first metric collected in a scrape starts the read; the others collected in the same turn get its answer.
 * Without an answer (the service is down or elsewhere and slow) they get undefined and stay as they were.
 */
export function readOncePerScrape<T>(
  read: () => Promise<T>,
  logger: Logger,
  what: string,
): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  return () => {
    pending ??= read()
      .catch((error: unknown) => {
        logger.debug({ err: error }, `${what} unavailable for /metrics`);
        return undefined;
      })
      .finally(() => setTimeout(() => (pending = undefined), 0));
    return pending;
  };
}
