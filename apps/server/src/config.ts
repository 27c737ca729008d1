// The one configuration schema: defaults < config file (JSON) < SOUNDMESH_* environment; a bad value stops start-up.
import { readFileSync } from "node:fs";
import { availableParallelism, homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { z } from "zod";
import { issueDetails } from "@soundmesh/protocol";

const rateRule = z.object({ ratePerSecond: z.number().positive(), burst: z.number().int().positive() });
/** WebSocket frames are at most 1 MiB (the protocol's MAX_FRAME_BYTES): a socket must be able to hold one in flight. */
const MIB = 1024 * 1024;
const webOrigin = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text;
  } catch {
    return false;
  }
}, "an origin: http(s)://host[:port], no path or trailing slash");

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
    /**
     * STUN and TURN servers for listeners on different networks, told to each client as it connects. TURN uses
     * coturn's use-auth-secret (the TURN REST convention): `secret` is its static-auth-secret, and each connection
     * gets credentials good for `ttlSeconds`. URLs name servers by IP address (see the README).
     */
    ice: z.object({
      stunUrls: z.array(z.string().regex(/^stuns?:[^\s]{1,250}$/, "a stun: URL")).max(8),
      turn: z
        .object({
          urls: z
            .array(z.string().regex(/^turns?:[^\s]{1,250}$/, "a turn: URL"))
            .min(1)
            .max(8),
          secret: z.string().min(16, "at least 16 characters"),
          ttlSeconds: z
            .number()
            .int()
            .min(60)
            .max(7 * 24 * 3600)
            .default(3600),
        })
        .optional(),
    }),
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
        /** ffmpeg processes running at once (listeners first; background work paused for them). */
        maxConcurrent: z.number().int().min(1).max(256),
        /** Unfinished transcodes one user may wait for; beyond it RATE_LIMITED. */
        maxPerUser: z.number().int().min(1).max(1_000),
        /** Listeners' transcodes waiting for a slot; beyond it BUSY. */
        maxQueued: z.number().int().min(1).max(100_000),
        /** Keep two ffmpeg per profile started, waiting for a listener's cold click or seek (skips ffmpeg's start-up). */
        warm: z.boolean(),
      })
      .refine(
        (transcode) => transcode.ahead.every((name) => name === "original" || name in transcode.profiles),
        { message: "ahead may name only the profiles above (or original)", path: ["ahead"] },
      ),
    /** Cover images (album art, playlist uploads): decoded only below a pixel cap, a few at a time. */
    covers: z.object({
      maxPixels: z.number().int().min(10_000).max(268_000_000),
      maxConcurrentDecodes: z.number().int().min(1).max(64),
    }),
    admin: z.object({ name: z.string().min(1).optional(), password: z.string().min(8).optional() }),
    security: z.object({
      secureCookies: z.boolean(),
      /** Behind a reverse proxy: true (any), or the proxies' addresses/CIDRs, comma-separated. */
      trustProxy: z.union([
        z.boolean(),
        z.string().regex(/^[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*$/, "addresses or CIDRs, comma-separated"),
      ]),
      /** Public origins of reverse proxies whose pages may open /ws (besides the server's own). */
      allowedOrigins: z.array(webOrigin).max(32),
      /** A bearer token that reads /metrics from anywhere (besides loopback clients and admins). */
      metricsToken: z.string().min(16, "at least 16 characters").max(200).optional(),
      sessionTtlMs: z.number().int().positive(),
      argon2MemoryKiB: z.number().int().min(1024),
      argon2TimeCost: z.number().int().min(1),
    }),
    rateLimits: z
      .object({
        busDefault: rateRule,
        busEdges: z.record(z.string(), rateRule),
        /** WebSocket frames of every kind per user, over all the user's sockets. */
        perUser: rateRule,
        /** HTTP API requests (audio pieces, ranges, covers) per user, or per address without a verified credential. */
        perUserHttp: rateRule,
      })
      // A misspelt or retired key (perSessionHttp became perUserHttp) must not be ignored in silence.
      .strict(),
    connections: z
      .object({
        maxSocketsPerUser: z.number().int().positive(),
        maxSockets: z.number().int().positive(),
        /** Bytes of WebSocket frames received but not yet answered, per socket and in all. */
        inFlightBytesPerSocket: z.number().int().min(MIB, "at least one whole frame (1 MiB)"),
        inFlightBytesTotal: z.number().int().min(MIB, "at least one whole frame (1 MiB)"),
        headersTimeoutMs: z.number().int().min(100),
        /** A request's headers and body must have arrived within this. */
        receiveTimeoutMs: z.number().int().min(100),
        keepAliveTimeoutMs: z.number().int().min(100),
        /** A connection with no traffic either way for this long is closed (not WebSockets). */
        idleTimeoutMs: z.number().int().min(100),
      })
      .refine((c) => c.headersTimeoutMs <= c.receiveTimeoutMs, {
        message: "headersTimeoutMs may not exceed receiveTimeoutMs",
        path: ["headersTimeoutMs"],
      })
      .refine((c) => c.inFlightBytesPerSocket <= c.inFlightBytesTotal, {
        message: "inFlightBytesPerSocket may not exceed inFlightBytesTotal",
        path: ["inFlightBytesPerSocket"],
      }),
    /** The live service topology: how often processes report, what counts as silent or stale, where alerts go. */
    topology: z
      .object({
        reportIntervalMs: z.number().int().min(50).max(600_000),
        evaluateIntervalMs: z.number().int().min(50).max(600_000),
        /** Rates, error ratios and p99 are read over this window; an edge quiet for it is silent. */
        windowMs: z.number().int().min(100).max(3_600_000),
        /** A process whose last report is older than this is not live. */
        staleAfterMs: z.number().int().min(100).max(3_600_000),
        /** p99 over the window above factor × its own baseline (and above floorMs) raises an alert. */
        latencyFactor: z.number().min(1).max(1_000),
        latencyFloorMs: z.number().min(0).max(600_000),
        /** Receives every raised and resolved alert as a POSTed JSON body. */
        webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** Addresses the network sample maps to nodes besides the database and the server's own port. */
        endpoints: z
          .array(
            z.object({ address: z.string().regex(/^.+:\d{1,5}$/, "host:port"), node: z.string().min(1) }),
          )
          .max(1_000),
      })
      .strict(),
    /** Listening events: when an hourly bucket closes, and how long event ids are remembered for dedup. */
    events: z
      .object({
        /** A bucket [H, H + 1 h) closes when the server's clock reaches H + 1 h + this. */
        allowedLatenessMs: z.number().int().min(0).max(3_600_000),
        /** Events older than this (by event time) are refused: their ids are no longer remembered. */
        dedupWindowHours: z
          .number()
          .int()
          .min(2)
          .max(24 * 90),
        closeCheckIntervalMs: z.number().int().min(100).max(600_000),
        /** Scrobbling to ListenBrainz and Last.fm (each user connects their own account in Settings). */
        scrobbling: z
          .object({
            listenBrainzUrl: z.string().url(),
            lastFmApiUrl: z.string().url(),
            /** Where users approve soundmesh on Last.fm. */
            lastFmAuthUrl: z.string().url(),
            /** The server's Last.fm API account (https://www.last.fm/api/account/create); without it Last.fm is off. */
            lastFmApiKey: z.string().min(1).nullable(),
            lastFmApiSecret: z.string().min(1).nullable(),
            /** Tries before a scrobble goes to the dead letters. */
            maxAttempts: z.number().int().min(1).max(100),
            retryMinMs: z.number().int().min(10).max(3_600_000),
            retryMaxMs: z
              .number()
              .int()
              .min(10)
              .max(7 * 86_400_000),
            intervalMs: z.number().int().min(100).max(3_600_000),
          })
          .strict(),
      })
      .strict(),
    /** Cluster mode: the NATS servers every service process connects to, and the folder of the services' NKeys. */
    nats: z
      .object({
        servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, "a nats://host:port URL")).max(32),
        /** `soundmesh nats-config --keys` writes <service>.nk here; without it the processes connect unnamed. */
        keysDir: z.string().min(1).optional(),
      })
      .strict(),
    /** Radio: how often the job runner checks that the last closed day has its radio index (0: built only when asked). */
    recommend: z
      .object({
        rebuildEveryMinutes: z
          .number()
          .int()
          .min(0)
          .max(7 * 24 * 60),
      })
      .strict(),
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
    ice: { stunUrls: [] },
    search: { rebuildEveryHours: 24 },
    transcode: {
      profiles: { opus96: { codec: "opus", bitrateKbps: 96 }, opus160: { codec: "opus", bitrateKbps: 160 } },
      ahead: ["opus96"],
      maxConcurrent: availableParallelism(),
      maxPerUser: 4,
      maxQueued: 64,
      warm: true,
    },
    covers: { maxPixels: 40_000_000, maxConcurrentDecodes: 2 },
    admin: {},
    security: {
      secureCookies: false,
      trustProxy: false,
      allowedOrigins: [],
      sessionTtlMs: 30 * 24 * 3600_000,
      argon2MemoryKiB: 19_456,
      argon2TimeCost: 2,
    },
    rateLimits: {
      busDefault: { ratePerSecond: 5_000, burst: 10_000 },
      busEdges: {},
      perUser: { ratePerSecond: 50, burst: 200 },
      perUserHttp: { ratePerSecond: 200, burst: 2_000 },
    },
    connections: {
      maxSocketsPerUser: 16,
      maxSockets: 10_000,
      inFlightBytesPerSocket: 4 * MIB,
      inFlightBytesTotal: 256 * MIB,
      headersTimeoutMs: 10_000,
      receiveTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      idleTimeoutMs: 120_000,
    },
    topology: {
      reportIntervalMs: 5_000,
      evaluateIntervalMs: 2_000,
      windowMs: 60_000,
      staleAfterMs: 20_000,
      latencyFactor: 3,
      latencyFloorMs: 50,
      endpoints: [],
    },
    events: {
      allowedLatenessMs: 10 * 60_000,
      dedupWindowHours: 7 * 24,
      closeCheckIntervalMs: 10_000,
      scrobbling: {
        listenBrainzUrl: "https://api.listenbrainz.org",
        lastFmApiUrl: "https://ws.audioscrobbler.com/2.0/",
        lastFmAuthUrl: "https://www.last.fm/api/auth/",
        lastFmApiKey: null,
        lastFmApiSecret: null,
        maxAttempts: 8,
        retryMinMs: 30_000,
        retryMaxMs: 6 * 3_600_000,
        intervalMs: 15_000,
      },
    },
    recommend: { rebuildEveryMinutes: 60 },
    nats: { servers: ["nats://127.0.0.1:4222"] },
  };
}

type EnvParser = (value: string) => unknown;
const asNumber: EnvParser = (value) => (/^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value);
const asBoolean: EnvParser = (value) =>
  /^(1|true|yes|on)$/i.test(value) ? true : /^(0|false|no|off)$/i.test(value) ? false : value;
const asString: EnvParser = (value) => value;
const asList: EnvParser = (value) => value.split(delimiter).filter(Boolean);
const asCommaList: EnvParser = (value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

/** Every variable the server reads, with the config key it sets. */
export const environmentVariables: Record<string, { path: string[]; parse: EnvParser }> = {
  SOUNDMESH_DATA_DIR: { path: ["dataDir"], parse: asString },
  SOUNDMESH_HOST: { path: ["host"], parse: asString },
  SOUNDMESH_PORT: { path: ["port"], parse: asNumber },
  SOUNDMESH_LOG_LEVEL: { path: ["logLevel"], parse: asString },
  SOUNDMESH_DATABASE_URL: { path: ["databaseUrl"], parse: asString },
  SOUNDMESH_NATS_URL: { path: ["nats", "servers"], parse: asCommaList },
  SOUNDMESH_NATS_KEYS: { path: ["nats", "keysDir"], parse: asString },
  SOUNDMESH_LIBRARY: { path: ["library", "folders"], parse: asList },
  SOUNDMESH_WATCH: { path: ["library", "watch"], parse: asBoolean },
  SOUNDMESH_DEMO_LIBRARY: { path: ["library", "demo"], parse: asBoolean },
  SOUNDMESH_CACHE_MAX_BYTES: { path: ["cache", "maxBytes"], parse: asNumber },
  SOUNDMESH_STUN_URLS: { path: ["ice", "stunUrls"], parse: asCommaList },
  SOUNDMESH_TURN_URLS: { path: ["ice", "turn", "urls"], parse: asCommaList },
  SOUNDMESH_TURN_SECRET: { path: ["ice", "turn", "secret"], parse: asString },
  SOUNDMESH_TURN_TTL_SECONDS: { path: ["ice", "turn", "ttlSeconds"], parse: asNumber },
  SOUNDMESH_SEARCH_REBUILD_HOURS: { path: ["search", "rebuildEveryHours"], parse: asNumber },
  SOUNDMESH_TRANSCODE_MAX_CONCURRENT: { path: ["transcode", "maxConcurrent"], parse: asNumber },
  SOUNDMESH_TRANSCODE_WARM: { path: ["transcode", "warm"], parse: asBoolean },
  SOUNDMESH_ADMIN_NAME: { path: ["admin", "name"], parse: asString },
  SOUNDMESH_ADMIN_PASSWORD: { path: ["admin", "password"], parse: asString },
  SOUNDMESH_SECURE_COOKIES: { path: ["security", "secureCookies"], parse: asBoolean },
  SOUNDMESH_TRUST_PROXY: { path: ["security", "trustProxy"], parse: asBoolean },
  SOUNDMESH_ALLOWED_ORIGINS: { path: ["security", "allowedOrigins"], parse: asCommaList },
  SOUNDMESH_METRICS_TOKEN: { path: ["security", "metricsToken"], parse: asString },
  SOUNDMESH_TOPOLOGY_WEBHOOK_URL: { path: ["topology", "webhookUrl"], parse: asString },
  SOUNDMESH_EVENTS_ALLOWED_LATENESS_MS: { path: ["events", "allowedLatenessMs"], parse: asNumber },
  SOUNDMESH_LASTFM_API_KEY: { path: ["events", "scrobbling", "lastFmApiKey"], parse: asString },
  SOUNDMESH_LASTFM_API_SECRET: { path: ["events", "scrobbling", "lastFmApiSecret"], parse: asString },
  SOUNDMESH_LASTFM_API_URL: { path: ["events", "scrobbling", "lastFmApiUrl"], parse: asString },
  SOUNDMESH_LISTENBRAINZ_URL: { path: ["events", "scrobbling", "listenBrainzUrl"], parse: asString },
  SOUNDMESH_RADIO_REBUILD_EVERY_MINUTES: { path: ["recommend", "rebuildEveryMinutes"], parse: asNumber },
  SOUNDMESH_MAX_SOCKETS_PER_USER: { path: ["connections", "maxSocketsPerUser"], parse: asNumber },
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
  // Checked once per process: without zod's per-schema compiled parser, which costs more to make than it saves here.
  const parsed = configSchema.safeParse(merged, { jitless: true });
  if (!parsed.success) {
    throw new ConfigError(
      issueDetails(parsed.error).map(({ path, message }) => `${path || "(root)"}: ${message}`),
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
