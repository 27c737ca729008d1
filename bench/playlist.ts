// Playlist benchmark: edits per second and acknowledgement latency on one hot playlist with 1, 8 and 64 concurrent
// editors over WebSockets (SQLite, and PostgreSQL when reachable); inserts aimed at one anchor of a playlist filling
// to 20,000 items, with another user's reads meanwhile; applying a 10,000-item snapshot on a client. Beside them, in
// the same run (the machine is shared and noisy), what the bare drivers manage with the same rows: the limits.
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { join } from "node:path";
import type { PlaylistOperation, PlaylistSnapshot } from "@soundmesh/protocol";
import { PlaylistModel, newRandomId } from "@soundmesh/playlist-model";
import { WsClient, login, pgTestDatabase, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { cliPath, spawnServer } from "@soundmesh/test-kit/server";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { printTable, round, type Row, summarize, writeResults, writeUnlimitedConfig } from "./report";
import { totalRow, turnRows, turnsOf, type Stamp } from "./cpu-turns";
import { catalogContract, playlistContract, userContract } from "@soundmesh/protocol";

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5_000);
/** BENCH_PLAYLIST_EDITORS: a comma-separated choice of editor counts (default 1, 8, 64). */
const editorCounts = (process.env.BENCH_PLAYLIST_EDITORS ?? "1,8,64").split(",").map(Number);
const snapshotItems = 10_000;

/**
 * The server builds to run: the current one, and with BENCH_BEFORE_CLI (a copy of apps/server's bin and dist made
 * before a change) that one too, each section run on both one after the other so a change in load falls on both.
 */
interface Build {
  build: string;
  cli: string;
}
const builds: Build[] = process.env.BENCH_BEFORE_CLI
  ? [
      { build: "before", cli: process.env.BENCH_BEFORE_CLI },
      { build: "now", cli: cliPath },
    ]
  : [{ build: "now", cli: cliPath }];
/** BENCH_ROUNDS runs each section's builds that many times over (before, now, before, now …): one edit is one sample. */
const runs: Build[] = Array.from({ length: Number(process.env.BENCH_ROUNDS ?? 1) }, () => builds).flat();
/** The server samples its event loop every millisecond, to see blocks of a few (its /metrics default is 10 ms). */
const serverEnv = { SOUNDMESH_EVENT_LOOP_RESOLUTION_MS: "1" };
/** BENCH_PLAYLIST_SECTIONS: a comma-separated choice of hot, anchored (default both). */
const sections = new Set((process.env.BENCH_PLAYLIST_SECTIONS ?? "hot,anchored").split(","));
/**
 * BENCH_PLAYLIST_TURNS=N: the server runs with a CPU profile (node --cpu-prof, 100 µs) and stamps its turns
 * (turn-stamps.mjs) during the one edit of 500 inserts: the N turns that took most CPU time are listed with where it
 * went; and where the CPU time of the most editors' run went, as one stretch.
 */
const turnCount = Number(process.env.BENCH_PLAYLIST_TURNS ?? 0);
const turns: Row[] = [];
const turnStamps = join(import.meta.dirname, "turn-stamps.mjs");
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Toggles the server's turn stamps (SIGUSR2) and waits for it to answer with `file`. */
async function toggleStamps(pid: number, file: string): Promise<void> {
  process.kill(pid, "SIGUSR2");
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The biggest profile in `directory`: the serving process's (the launcher writes a small one of its own). */
function serverProfile(directory: string): string {
  const files = readdirSync(directory).map((name) => join(directory, name));
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

/**
 * Spawns the server for a section; with BENCH_PLAYLIST_TURNS, profiled and ready to stamp its turns: `stamped` runs
 * work with the stamps on, and `addTurns` (once the server has exited and written its profile) adds the costliest
 * turns of that work to the turns table.
 */
async function benchServer(dataDir: string, env: Record<string, string>, cli: string) {
  const profileDir = join(dataDir, "profile");
  const stampsFile = join(dataDir, "turns.json");
  const server = await spawnServer(
    dataDir,
    {
      SOUNDMESH_CONFIG: writeUnlimitedConfig(dataDir),
      SOUNDMESH_BENCH_TURNS_FILE: stampsFile,
      ...serverEnv,
      ...env,
    },
    30_000,
    cli,
    [
      ...(turnCount > 0
        ? ["--cpu-prof", "--cpu-prof-interval=100", `--cpu-prof-dir=${profileDir}`, `--import=${turnStamps}`]
        : []),
      // BENCH_SERVER_NODE_ARGS: node options for the server (e.g. --trace-gc), its output kept in BENCH_SERVER_OUTPUT.
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
    ],
  );
  return {
    server,
    stamped: async <T>(work: () => Promise<T>): Promise<T> => {
      if (turnCount > 0) await toggleStamps(server.serverPid(), `${stampsFile}.started`);
      const result = await work();
      if (turnCount > 0) await toggleStamps(server.serverPid(), stampsFile);
      return result;
    },
    /**
     * Where the work's CPU time went, as one stretch: stamping every turn would keep a busy server's loop from ever
     * waiting (an immediate always pending), which changes what is measured. The monotonic clock is the machine's.
     */
    profiled: async <T>(work: () => Promise<T>): Promise<T> => {
      if (turnCount === 0) return work();
      const before = [monotonicUs(), (await serverFigures(server.url)).cpuMs * 1000];
      const result = await work();
      const after = [monotonicUs(), (await serverFigures(server.url)).cpuMs * 1000];
      writeFileSync(stampsFile, JSON.stringify([before, after]));
      return result;
    },
    addTurns: (label: string): void => {
      const outputFile = process.env.BENCH_SERVER_OUTPUT;
      if (outputFile) writeFileSync(`${outputFile}-${label.replace(/\W+/g, "-")}.log`, server.output());
      if (turnCount === 0 || !existsSync(stampsFile)) return;
      // BENCH_KEEP_PROFILE=<prefix>: the server's CPU profile kept as <prefix>-<label>.cpuprofile, for a look of one's
      // own (bench/long-holds.ts).
      const keep = process.env.BENCH_KEEP_PROFILE;
      if (keep) copyFileSync(serverProfile(profileDir), `${keep}-${label.replace(/\W+/g, "-")}.cpuprofile`);
      const stamps = JSON.parse(readFileSync(stampsFile, "utf8")) as Stamp[];
      const found = turnsOf(serverProfile(profileDir), stamps);
      turns.push(...turnRows(found, turnCount, label), totalRow(found, label));
    },
  };
}

/**
 * The server's own figures from its /metrics (this machine's clients read it without a token): its event-loop delay
 * since the last scrape — each scrape resets it — and the CPU time the serving process has used (not the launcher's).
 * The delay's max is the longest the loop was held by one piece of synchronous work (to the sampling resolution).
 */
async function serverFigures(url: string): Promise<{ loopMaxMs: number; loopP99Ms: number; cpuMs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
    if (!match) throw new Error(`/metrics has no ${name}`);
    return Number(match[1]);
  };
  return {
    loopMaxMs: value("nodejs_eventloop_lag_max_seconds") * 1000,
    loopP99Ms: value("nodejs_eventloop_lag_p99_seconds") * 1000,
    cpuMs: value("process_cpu_seconds_total") * 1000,
  };
}

/** The items all editors of one run may hold together: under the playlist's cap (20,000), whatever the rate. */
const hotItemsCap = 15_000;

/**
 * One editor: inserts after its own items or at the end, removes and moves its own, on a stale base revision. Seven
 * edits in ten insert, so a fast run would fill the playlist: at its share of `hotItemsCap` an editor removes instead.
 */
async function editLoop(
  ws: WsClient,
  playlistId: string,
  deadline: number,
  samples: number[],
  maxMine: number,
  trackIds: readonly string[],
  sentAt?: number[],
): Promise<void> {
  const mine: string[] = [];
  let baseRevision = 0;
  for (let i = 0; performance.now() < deadline; i += 1) {
    const roll = i % 10;
    let operation: PlaylistOperation;
    if ((roll < 7 && mine.length < maxMine) || mine.length < 2) {
      const itemId = newRandomId();
      const afterItemId = mine.length === 0 || roll === 0 ? "end" : mine[i % mine.length]!;
      operation = {
        type: "insert",
        afterItemId,
        items: [{ itemId, trackId: trackIds[i % trackIds.length]! }],
      };
      mine.push(itemId);
    } else if (roll < 9) {
      operation = { type: "remove", itemIds: [mine.splice(i % mine.length, 1)[0]!] };
    } else {
      operation = { type: "move", itemIds: [mine[0]!], afterItemId: mine.at(-1)! };
    }
    const sent = performance.now();
    const result = await ws.call(playlistContract, "edit", {
      playlistId,
      baseRevision,
      operations: [{ opId: newRandomId(), operation }],
    });
    samples.push(performance.now() - sent);
    sentAt?.push(sent);
    baseRevision = result.revision;
    // Keep the client's memory of frames small over a long run.
    ws.frames.length = 0;
  }
}

/**
 * The server's demo library's tracks (made at its start), once its first scan is done: edits insert tracks the catalog has, so the item
 * snapshots filled after each edit (title, artist, album) are written as they are for a person's playlist.
 */
async function libraryTrackIds(url: string, token: string): Promise<string[]> {
  const admin = await WsClient.connect(url, token);
  try {
    await waitUntil(
      () => admin.call(catalogContract, "scanStatus"),
      (status) => status.finishedAt !== null && !status.running && status.added > 0,
      120_000,
    );
    const { tracks } = await admin.call(catalogContract, "random", { kind: "tracks", limit: 100 });
    if (tracks.length === 0) throw new Error("the demo library has no tracks");
    return tracks.map((track) => track.id);
  } finally {
    await admin.close();
  }
}

async function hotPlaylist(
  database: string,
  env: Record<string, string>,
  { build, cli }: Build,
): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-bench-playlist-"));
  // The rate limits would otherwise measure the limiters, not the server (writeUnlimitedConfig).
  const { server, profiled, addTurns } = await benchServer(
    dataDir,
    { SOUNDMESH_DEMO_LIBRARY: "true", ...env },
    cli,
  );
  const rows: Row[] = [];
  try {
    const token = await setupAdmin(server.url);
    const trackIds = await libraryTrackIds(server.url, token);
    for (const editors of editorCounts) {
      const sockets = await Promise.all(
        Array.from({ length: editors }, () => WsClient.connect(server.url, token)),
      );
      const created = await sockets[0]!.call(playlistContract, "create", {
        name: `Hot ${editors}`,
        isCollaborative: true,
      });
      const samples: number[] = [];
      const sentAt: number[] = [];
      const figuresBefore = await serverFigures(server.url);
      // The editors' own process shares the two cores: its CPU and its loop's longest hold are part of every answer.
      const clientLoop = monitorEventLoopDelay({ resolution: 1 });
      clientLoop.enable();
      const clientCpuBefore = process.cpuUsage();
      const started = performance.now();
      const deadline = started + durationMs;
      const editing = () =>
        Promise.all(
          sockets.map((ws) =>
            editLoop(
              ws,
              created.playlist.id,
              deadline,
              samples,
              Math.floor(hotItemsCap / editors),
              trackIds,
              sentAt,
            ),
          ),
        );
      // Profiled for the most editors only.
      await (editors === editorCounts.at(-1) ? profiled(editing) : editing());
      const elapsedS = (performance.now() - started) / 1000;
      clientLoop.disable();
      const clientCpu = process.cpuUsage(clientCpuBefore);
      const figures = await serverFigures(server.url);
      const stats = summarize(samples);
      if (process.env.BENCH_PLAYLIST_SAMPLES)
        writeFileSync(
          `${process.env.BENCH_PLAYLIST_SAMPLES}-${database}-${editors}.json`,
          JSON.stringify({ started, sentAt, samples }),
        );
      const final = await sockets[0]!.call(playlistContract, "get", {
        playlistId: created.playlist.id,
      });
      rows.push({
        database,
        build,
        editors,
        edits: samples.length,
        "edits/s": Math.round(samples.length / elapsedS),
        "ack p50 ms": round(stats.p50, 2),
        "ack p99 ms": round(stats.p99, 2),
        "server CPU ms per edit": round((figures.cpuMs - figuresBefore.cpuMs) / samples.length, 3),
        "loop delay max ms": round(figures.loopMaxMs, 1),
        "editors' CPU ms per edit": round((clientCpu.user + clientCpu.system) / 1000 / samples.length, 3),
        "editors' loop delay max ms": round(clientLoop.max / 1e6, 1),
        "final items": final.items.length,
      });
      await Promise.all(sockets.map((ws) => ws.close()));
    }
  } finally {
    server.process.kill("SIGTERM");
    await server.exited;
    addTurns(`${database} ${build}: ${editorCounts.at(-1)} editors`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

const anchoredItems = 19_000;
const anchoredInserts = 500;

/** One insert right after `anchor` per operation; `count` operations in one edit. */
const insertsAfter = (anchor: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    opId: newRandomId(),
    operation: {
      type: "insert" as const,
      afterItemId: anchor,
      items: [{ itemId: newRandomId(), trackId: `new${i}` }],
    },
  }));

/**
 * Inserts aimed at one gap of a big playlist — right after the same item in the middle of 19,000, so each narrows
 * the gap the last one left — while another user keeps reading a playlist of their own: 500 edits of one insert,
 * then one edit of 500 inserts (the attack: one request, filling the playlist to 20,000). The cost of an edit, and
 * whether it stalls anyone else.
 */
async function insertsAtOneAnchor(
  database: string,
  env: Record<string, string>,
  { build, cli }: Build,
): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-bench-playlist-anchor-"));
  const { server, stamped, addTurns } = await benchServer(dataDir, env, cli);
  try {
    const token = await setupAdmin(server.url);
    const editor = await WsClient.connect(server.url, token);
    await editor.call(userContract, "createUser", { name: "reader", password: "reader password" });
    const reader = await WsClient.connect(server.url, await login(server.url, "reader", "reader password"));
    const created = await editor.call(playlistContract, "create", { name: "Big" });
    const playlistId = created.playlist.id;
    const itemIds = Array.from({ length: anchoredItems }, () => newRandomId());
    let revision = created.playlist.revision;
    const edit = async (operations: ReturnType<typeof insertsAfter>) => {
      ({ revision } = await editor.call(playlistContract, "edit", {
        playlistId,
        baseRevision: revision,
        operations,
      }));
      editor.frames.length = 0;
    };
    for (let i = 0; i < anchoredItems; i += 5_000) {
      const items = itemIds.slice(i, i + 5_000).map((itemId, j) => ({ itemId, trackId: `track${i + j}` }));
      await edit([
        { opId: newRandomId(), operation: { type: "insert", afterItemId: "end", items } as never },
      ]);
    }
    const own = await reader.call(playlistContract, "create", {
      name: "Mine",
      trackIds: Array.from({ length: 200 }, (_, i) => `track${i}`),
    });
    const anchor = itemIds[anchoredItems / 2]!;

    /** Runs `work` while the reader keeps reading; answers the reads' latencies. */
    const whileReading = async (work: () => Promise<void>): Promise<number[]> => {
      const samples: number[] = [];
      let isWorking = true;
      const reads = (async () => {
        while (isWorking) {
          const sent = performance.now();
          await reader.call(playlistContract, "get", { playlistId: own.playlist.id });
          samples.push(performance.now() - sent);
          reader.frames.length = 0;
        }
      })();
      try {
        await work();
      } finally {
        isWorking = false;
        await reads;
      }
      return samples;
    };
    const editSamples: number[] = [];
    const timed = async (operations: ReturnType<typeof insertsAfter>) => {
      const sent = performance.now();
      await edit(operations);
      editSamples.push(performance.now() - sent);
    };
    const singlesBefore = await serverFigures(server.url);
    const singleReads = await whileReading(async () => {
      for (let i = 0; i < anchoredInserts; i += 1) await timed(insertsAfter(anchor, 1));
    });
    const singlesAfter = await serverFigures(server.url);
    const singles = summarize(editSamples.splice(0));
    const batchBefore = await serverFigures(server.url);
    // This process's own loop too: the reader's times include any wait here (parsing the 500 revisions answered
    // and pushed to the editor), which is not the server's.
    const clientLoop = monitorEventLoopDelay({ resolution: 1 });
    clientLoop.enable();
    const batchReads = await stamped(() => whileReading(() => timed(insertsAfter(anchor, anchoredInserts))));
    clientLoop.disable();
    // The server's CPU time for the edit (and the reads meanwhile): on a shared machine, steadier than wall time.
    const batch = await serverFigures(server.url);
    const final = await editor.call(playlistContract, "get", { playlistId });
    if (final.items.length !== anchoredItems + 2 * anchoredInserts) throw new Error("inserts lost");
    await Promise.all([editor.close(), reader.close()]);
    const reads = (samples: number[]) => {
      const stats = summarize(samples);
      return {
        "other user's get p50 ms": round(stats.p50, 2),
        "other user's get max ms": round(Math.max(...samples), 2),
      };
    };
    return [
      {
        database,
        build,
        measure: `${anchoredInserts} edits of 1 insert at one anchor of ${anchoredItems} items`,
        "edit p50 ms": round(singles.p50, 2),
        "edit p99 ms": round(singles.p99, 2),
        "server CPU ms": Math.round(singlesAfter.cpuMs - singlesBefore.cpuMs),
        "loop delay p99 ms": round(singlesAfter.loopP99Ms, 2),
        "loop delay max ms": round(singlesAfter.loopMaxMs, 2),
        ...reads(singleReads),
      },
      {
        database,
        build,
        measure: `then 1 edit of ${anchoredInserts} inserts there (to ${final.items.length} items)`,
        "edit p50 ms": round(editSamples[0]!, 2),
        "server CPU ms": Math.round(batch.cpuMs - batchBefore.cpuMs),
        "loop delay p99 ms": round(batch.loopP99Ms, 2),
        "loop delay max ms": round(batch.loopMaxMs, 2),
        ...reads(batchReads),
        "bench process loop delay max ms": round(clientLoop.max / 1e6, 2),
      },
    ];
  } finally {
    server.process.kill("SIGTERM");
    await server.exited;
    addTurns(`${database} ${build}: 1 edit of ${anchoredInserts} inserts`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** What a client does with a big snapshot: parse the frame, build the model, read the list to render it. */
function snapshotOnClient(): Row[] {
  const snapshot: PlaylistSnapshot = {
    playlist: {
      id: "benchplaylist",
      ownerId: "u1",
      ownerName: "alice",
      name: "Big",
      description: "",
      isPublic: false,
      isCollaborative: true,
      collaborators: [],
      followerCount: 0,
      revision: snapshotItems,
      itemCount: snapshotItems,
      hasUploadedCover: false,
      smartRules: null,
      createdAt: 0,
      updatedAt: 0,
      access: { role: "owner", canEdit: true, isFollowing: false },
    },
    items: Array.from({ length: snapshotItems }, (_, i) => ({
      itemId: newRandomId(),
      trackId: `track${i}`,
      addedBy: "u1",
      addedAt: 1_700_000_000_000 + i,
    })),
  };
  const text = JSON.stringify(snapshot);
  const applySamples: number[] = [];
  const opSamples: number[] = [];
  for (let round = 0; round < 30; round += 1) {
    const started = performance.now();
    const model = new PlaylistModel(JSON.parse(text) as PlaylistSnapshot);
    if (model.items.length !== snapshotItems) throw new Error("snapshot not applied");
    applySamples.push(performance.now() - started);
    // Then a pushed revision on that list: an insert in the middle, read back for rendering.
    const middle = model.items[snapshotItems / 2]!.itemId;
    const opStarted = performance.now();
    model.receive([
      {
        revision: snapshotItems + 1,
        opId: "benchop01",
        author: "u2",
        at: 1,
        operation: { type: "insert", afterItemId: middle, items: [{ itemId: "benchitem", trackId: "t" }] },
      },
    ]);
    if (model.items.length !== snapshotItems + 1) throw new Error("revision not applied");
    opSamples.push(performance.now() - opStarted);
  }
  const apply = summarize(applySamples);
  const op = summarize(opSamples);
  const sizeKiB = Math.round(Buffer.byteLength(text) / 1024);
  return [
    {
      measure: `apply a ${snapshotItems}-item snapshot (${sizeKiB} KiB JSON)`,
      "p50 ms": round(apply.p50, 2),
      "p99 ms": round(apply.p99, 2),
    },
    { measure: "apply one pushed insert to it", "p50 ms": round(op.p50, 2), "p99 ms": round(op.p99, 2) },
  ];
}

const limitMs = 2_000;

/** One edit's rows, as the playlist service writes them: the item, its revision, the playlist's revision. */
const editRows = (i: number) => ({
  itemId: randomBytes(12).toString("base64url"),
  opId: randomBytes(12).toString("base64url"),
  revision: i + 1,
  operation: JSON.stringify({ type: "insert", afterItemId: "end", items: [{ itemId: "x", trackId: "t" }] }),
});

const limitSchema = [
  `create table items (playlist_id varchar(64) not null, item_id varchar(64) not null, track_id varchar(64) not null,
    position double precision not null, removed_revision integer, primary key (playlist_id, item_id))`,
  `create table revisions (playlist_id varchar(64) not null, revision integer not null, op_id varchar(64) not null,
    operation text not null, primary key (playlist_id, revision), unique (playlist_id, op_id))`,
  `create table playlists (id varchar(64) primary key, revision integer not null)`,
  `insert into playlists values ('p', 0)`,
];

/**
 * The bare better-sqlite3 limit, with the server's pragmas: one edit's rows per transaction (a commit per edit), and
 * 64 edits' rows per transaction (what a full group commits), for as many edits as fit in limitMs.
 */
function sqliteLimits(): Row[] {
  const dir = mkdtempSync(join(tmpdir(), "soundmesh-bench-playlist-raw-"));
  const database = new BetterSqlite3(join(dir, "raw.db"));
  try {
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    for (const statement of limitSchema) database.exec(statement);
    const item = database.prepare("insert into items values ('p', ?, 't', ?, null)");
    const revision = database.prepare("insert into revisions values ('p', ?, ?, ?)");
    const playlist = database.prepare("update playlists set revision = ? where id = 'p'");
    let i = 0;
    const writeOne = () => {
      const rows = editRows(i);
      item.run(rows.itemId, i);
      revision.run(rows.revision, rows.opId, rows.operation);
      playlist.run(rows.revision);
      i += 1;
    };
    const rate = (perTransaction: number, what: string): Row => {
      const transaction = database.transaction(() => {
        for (let n = 0; n < perTransaction; n += 1) writeOne();
      });
      const started = performance.now();
      let transactions = 0;
      while (performance.now() - started < limitMs) {
        transaction();
        transactions += 1;
      }
      const elapsedMs = performance.now() - started;
      return {
        database: "SQLite",
        limit: `bare better-sqlite3, ${what} per transaction`,
        "edits/s": Math.round((transactions * perTransaction) / (elapsedMs / 1000)),
        "ms per transaction": round(elapsedMs / transactions, 3),
      };
    };
    // 500: the rows of the one edit of 500 inserts in the table below, its floor.
    return [rate(1, "1 edit's rows"), rate(64, "64 edits' rows"), rate(500, "500 edits' rows")];
  } finally {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The bare pg limit, over a pool of 10 connections as the server's: 64 concurrent round trips (select 1), and 64
 * concurrent transactions each writing one edit's rows (a commit, so a WAL flush, per edit).
 */
async function postgresLimits(url: string): Promise<Row[]> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // The test database is dropped after the run, which ends any connection still open: not a crash of the bench.
  pool.on("error", () => undefined);
  try {
    for (const statement of limitSchema) await pool.query(statement);
    let i = 0;
    const rate = async (work: () => Promise<void>) => {
      const started = performance.now();
      let done = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (performance.now() - started < limitMs) {
            await work();
            done += 1;
          }
        }),
      );
      return Math.round(done / ((performance.now() - started) / 1000));
    };
    const roundTrips = await rate(async () => {
      await pool.query("select 1");
    });
    const commits = await rate(async () => {
      const client = await pool.connect();
      try {
        const rows = editRows((i += 1));
        await client.query("begin");
        await client.query("insert into items values ('p', $1, 't', $2, null)", [rows.itemId, i]);
        await client.query("insert into revisions values ('p', $1, $2, $3)", [
          rows.revision,
          rows.opId,
          rows.operation,
        ]);
        await client.query("update playlists set revision = $1 where id = 'p'", [rows.revision]);
        await client.query("commit");
      } finally {
        client.release();
      }
    });
    return [
      {
        database: "PostgreSQL",
        limit: "bare pg round trips (select 1), 64 at once on 10 connections",
        "edits/s": roundTrips,
      },
      {
        database: "PostgreSQL",
        limit: "bare pg, 1 edit's rows per transaction, 64 at once",
        "edits/s": commits,
      },
    ];
  } finally {
    await pool.end();
  }
}

const limits: Row[] = sqliteLimits();
const hot: Row[] = [];
const anchored: Row[] = [];
const hotRuns = sections.has("hot") ? runs : [];
const anchoredRuns = sections.has("anchored") ? runs : [];
/** BENCH_PLAYLIST_DATABASES: a comma-separated choice of sqlite, postgresql (default both; PostgreSQL when reachable). */
const databases = new Set((process.env.BENCH_PLAYLIST_DATABASES ?? "sqlite,postgresql").split(","));
if (databases.has("sqlite")) {
  for (const build of hotRuns) hot.push(...(await hotPlaylist("SQLite", {}, build)));
  for (const build of anchoredRuns) anchored.push(...(await insertsAtOneAnchor("SQLite", {}, build)));
}
for (const [run, rows] of [
  ...hotRuns.map(
    (build) =>
      [(database: string, env: Record<string, string>) => hotPlaylist(database, env, build), hot] as const,
  ),
  ...anchoredRuns.map(
    (build) =>
      [
        (database: string, env: Record<string, string>) => insertsAtOneAnchor(database, env, build),
        anchored,
      ] as const,
  ),
  [(_: string, env: Record<string, string>) => postgresLimits(env.SOUNDMESH_DATABASE_URL!), limits] as const,
]) {
  const database = databases.has("postgresql") ? await pgTestDatabase() : undefined;
  if (!database) break;
  try {
    rows.push(...(await run("PostgreSQL", { SOUNDMESH_DATABASE_URL: database.url })));
  } finally {
    await database.drop();
  }
}
printTable(
  "Playlist: edits on one hot playlist over WebSockets (client and server in separate processes, loopback)",
  hot,
);
printTable("Playlist: the bare drivers with the same rows, measured in the same run (limits)", limits);
printTable("Playlist: inserts aimed at one gap, and another user's reads meanwhile", anchored);
if (turns.length > 0)
  printTable(
    "Playlist: the server's costliest turns (CPU time), with the most editors and in the edit of 500 inserts",
    turns,
  );
const client = snapshotOnClient();
printTable("Playlist: client model (Node)", client);
writeResults("playlist", hot, { durationMs, limits, anchored, turns, client });
