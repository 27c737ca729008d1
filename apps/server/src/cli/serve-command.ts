// `soundmesh serve`: every service in one process until SIGINT or SIGTERM. Loaded only when this command runs.
import { startAllInOne } from "../all-in-one";
import { createLogger } from "../logger";
import { configFrom, type GlobalOptions, type LibraryOptions } from "./config-from";
import { raiseOpenFileLimit } from "./file-limit";

export async function serve(options: GlobalOptions & LibraryOptions): Promise<void> {
  const config = configFrom(options);
  const logger = createLogger(config.logLevel);
  raiseOpenFileLimit({ logger });
  const server = await startAllInOne(config, logger, {
    library: { add: options.addLibrary === true, replace: options.replaceLibrary === true },
  });
  console.log(`soundmesh is listening on ${server.url} (data in ${config.dataDir})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down");
      server.stop().then(resolve, (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        resolve();
      });
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
