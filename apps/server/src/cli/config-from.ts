// The options every command shares, and the configuration they select (defaults < file < environment < flags).
import { loadConfig, type Config } from "../config";

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  port?: string;
  host?: string;
  library?: string[];
  databaseUrl?: string;
}

/** How `--library` relates to the recorded library folders (library-folders.ts). */
export interface LibraryOptions {
  addLibrary?: boolean;
  replaceLibrary?: boolean;
}

/** `extra`: more overrides from the command's own flags, merged under the global ones. */
export function configFrom(options: GlobalOptions, extra: Record<string, unknown> = {}): Config {
  const overrides: Record<string, unknown> = { ...extra };
  if (options.dataDir) overrides.dataDir = options.dataDir;
  if (options.port !== undefined)
    overrides.port = /^\d+$/.test(options.port) ? Number(options.port) : options.port;
  if (options.host) overrides.host = options.host;
  if (options.databaseUrl) overrides.databaseUrl = options.databaseUrl;
  if (options.library?.length) overrides.library = { folders: options.library };
  return loadConfig({ ...(options.config ? { file: options.config } : {}), overrides });
}
