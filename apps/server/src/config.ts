// The one configuration schema: defaults < config file (JSON) < SOUNDMESH_* environment; a bad value stops start-up.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { z } from "zod";

const rateRule = z.object({ ratePerSecond: z.number().positive(), burst: z.number().int().positive() });

export const configSchema = z
  .object({
    dataDir: z.string().min(1),
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    /** postgres://… selects PostgreSQL; otherwise the SQLite file in dataDir. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "a postgres:// URL")
      .optional(),
    library: z.object({
      folders: z.array(z.string().min(1)),
      watch: z.boolean(),
      /** Make a small demo library in dataDir when no folder is configured. */
      demo: z.boolean(),
      /** What splits an artist tag into credited artists; unset: "feat.", "ft.", "featuring", "&", ";". */
      artistSeparators: z.array(z.string().trim().min(1).max(20)).max(20).optional(),
      /** Artist names never split although they hold a separator ("Simon & Garfunkel"). */
      artistsNotSplit: z.array(z.string().trim().min(1).max(200)).max(10_000).optional(),
    }),
    cache: z.object({ maxBytes: z.number().int().positive() }),
    /** The search indexes are also rebuilt whole this often, besides on every change they hear of. */
    search: z.object({
      rebuildEveryHours: z
        .number()
        .positive()
        .max(24 * 24, "at most 576 (24 days, a timer's limit)"),
    }),
    /** Opus renditions by profile name (lower-case letters and digits); "original" always exists. */
    transcode: z
      .object({
        profiles: z
          .record(
            z.string().regex(/^[a-z0-9]{1,32}$/),
            z.object({ codec: z.literal("opus"), bitrateKbps: z.number().int().min(6).max(510) }),
          )
          .refine((profiles) => !("original" in profiles), "original is the untouched file, not a transcode"),
        ahead: z.array(z.string()).max(8),
      })
      .refine(
        (transcode) => transcode.ahead.every((name) => name === "original" || name in transcode.profiles),
        { message: "ahead may name only the profiles above (or original)", path: ["ahead"] },
      ),
    admin: z.object({ name: z.string().min(1).optional(), password: z.string().min(8).optional() }),
    security: z.object({
      secureCookies: z.boolean(),
      /** Behind a reverse proxy: true (any), or the proxies' addresses/CIDRs, comma-separated. */
      trustProxy: z.union([
        z.boolean(),
        z.string().regex(/^[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*$/, "addresses or CIDRs, comma-separated"),
      ]),
      sessionTtlMs: z.number().int().positive(),
      argon2MemoryKiB: z.number().int().min(1024),
      argon2TimeCost: z.number().int().min(1),
    }),
    rateLimits: z.object({
      busDefault: rateRule,
      busEdges: z.record(z.string(), rateRule),
      perUser: rateRule,
      /** HTTP API requests (audio pieces, ranges, covers) per session, or per address without one. */
      perSessionHttp: rateRule,
    }),
  })
  .strict();

export type Config = Readonly<z.infer<typeof configSchema>>;

export function defaultConfig(): z.infer<typeof configSchema> {
  return {
    dataDir: join(homedir(), ".soundmesh"),
    host: "127.0.0.1",
    port: 7700,
    logLevel: "info",
    library: { folders: [], watch: true, demo: true },
    cache: { maxBytes: 10 * 1024 ** 3 },
    search: { rebuildEveryHours: 24 },
    transcode: {
      profiles: { opus96: { codec: "opus", bitrateKbps: 96 }, opus160: { codec: "opus", bitrateKbps: 160 } },
      ahead: ["opus96"],
    },
    admin: {},
    security: {
      secureCookies: false,
      trustProxy: false,
      sessionTtlMs: 30 * 24 * 3600_000,
      argon2MemoryKiB: 19_456,
      argon2TimeCost: 2,
    },
    rateLimits: {
      busDefault: { ratePerSecond: 5_000, burst: 10_000 },
      busEdges: {},
      perUser: { ratePerSecond: 50, burst: 200 },
      perSessionHttp: { ratePerSecond: 200, burst: 2_000 },
    },
  };
}

type EnvParser = (value: string) => unknown;
const asNumber: EnvParser = (value) => (/^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value);
const asBoolean: EnvParser = (value) =>
  /^(1|true|yes|on)$/i.test(value) ? true : /^(0|false|no|off)$/i.test(value) ? false : value;
const asString: EnvParser = (value) => value;
const asList: EnvParser = (value) => value.split(delimiter).filter(Boolean);

/** Every variable the server reads, with the config key it sets. */
export const environmentVariables: Record<string, { path: string[]; parse: EnvParser }> = {
  SOUNDMESH_DATA_DIR: { path: ["dataDir"], parse: asString },
  SOUNDMESH_HOST: { path: ["host"], parse: asString },
  SOUNDMESH_PORT: { path: ["port"], parse: asNumber },
  SOUNDMESH_LOG_LEVEL: { path: ["logLevel"], parse: asString },
  SOUNDMESH_DATABASE_URL: { path: ["databaseUrl"], parse: asString },
  SOUNDMESH_LIBRARY: { path: ["library", "folders"], parse: asList },
  SOUNDMESH_WATCH: { path: ["library", "watch"], parse: asBoolean },
  SOUNDMESH_DEMO_LIBRARY: { path: ["library", "demo"], parse: asBoolean },
  SOUNDMESH_CACHE_MAX_BYTES: { path: ["cache", "maxBytes"], parse: asNumber },
  SOUNDMESH_SEARCH_REBUILD_HOURS: { path: ["search", "rebuildEveryHours"], parse: asNumber },
  SOUNDMESH_ADMIN_NAME: { path: ["admin", "name"], parse: asString },
  SOUNDMESH_ADMIN_PASSWORD: { path: ["admin", "password"], parse: asString },
  SOUNDMESH_SECURE_COOKIES: { path: ["security", "secureCookies"], parse: asBoolean },
  SOUNDMESH_TRUST_PROXY: { path: ["security", "trustProxy"], parse: asBoolean },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function deepMerge(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return merged;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export interface LoadConfigOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; they win over everything. */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  let merged: Record<string, unknown> = defaultConfig();
  const file = options.file ?? env.SOUNDMESH_CONFIG;
  if (file) {
    let fromFile: unknown;
    try {
      fromFile = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new ConfigError([`config file ${file}: ${(error as Error).message}`]);
    }
    if (!isPlainObject(fromFile)) throw new ConfigError([`config file ${file}: must hold a JSON object`]);
    merged = deepMerge(merged, fromFile);
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [name, { path, parse }] of Object.entries(environmentVariables)) {
    const value = env[name];
    if (value !== undefined && value !== "") setPath(fromEnv, path, parse(value));
  }
  merged = deepMerge(merged, fromEnv);
  if (options.overrides) merged = deepMerge(merged, options.overrides);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    );
  }
  const config = parsed.data;
  config.dataDir = resolve(config.dataDir);
  config.library.folders = config.library.folders.map((folder) => resolve(folder));
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
