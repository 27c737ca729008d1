// The build job: the same input gives byte-identical files, a finished output is not built again, a build stopped
// halfway leaves the previous index in use and a rerun gives the same bytes as an undisturbed build.
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRadioIndex, loadRadioIndex, type BuildProgress } from "../src/index";
import { HOUR, tempDir, writeBuckets } from "./fixtures";
import { makeWorld } from "./synthetic-world";

const world = makeWorld({
  clusters: 4,
  tracksPerCluster: 40,
  tracksPerAlbum: 8,
  albumsPerArtist: 2,
  listeners: 20,
  sessionsPerListener: 6,
  playsPerSession: 10,
  strayShare: 0.1,
  unplayedAlbumsPerCluster: 1,
  seed: 3,
  startMs: Date.UTC(2030, 0, 1),
});

describe("buildRadioIndex", () => {
  let dir: string;
  const eventsDir = () => join(dir, "events");
  const options = (outDir: string) => ({
    eventsDir: eventsDir(),
    outDir,
    loadTracks: () => Promise.resolve(world.tracks),
  });
  const filesOf = (outDir: string) =>
    Object.fromEntries(readdirSync(outDir).map((name) => [name, readFileSync(join(outDir, name))]));

  beforeAll(async () => {
    dir = tempDir();
    await writeBuckets(eventsDir(), world.plays, world.endMs + 2 * HOUR);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("builds byte-identical files from the same input, and does not build a finished output again", async () => {
    const phases = new Set<BuildProgress["phase"]>();
    const first = await buildRadioIndex(options(join(dir, "a")), (p) => void phases.add(p.phase));
    const second = await buildRadioIndex(options(join(dir, "b")));
    expect(first.built).toBe(true);
    expect(second.fingerprint).toBe(first.fingerprint);
    expect([...phases]).toEqual(["reading", "training", "indexing", "writing", "done"]);
    const a = filesOf(join(dir, "a"));
    expect(Object.keys(a).sort()).toEqual(
      ["current.json", `radio-${first.fingerprint}.hnsw`, `radio-${first.fingerprint}.json`].sort(),
    );
    expect(filesOf(join(dir, "b"))).toEqual(a);
    const again = await buildRadioIndex(options(join(dir, "a")));
    expect(again).toMatchObject({ built: false, fingerprint: first.fingerprint });
    expect(again.meta.listenedTracks).toBe(first.meta.listenedTracks);
    expect(filesOf(join(dir, "a"))).toEqual(a);
  });

  it("new input is a new output; the previous build stays until the next one", async () => {
    const outDir = join(dir, "c");
    const before = await buildRadioIndex(options(outDir));
    const after = await buildRadioIndex({
      ...options(outDir),
      loadTracks: () => Promise.resolve(world.tracks.slice(0, -8)),
    });
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect((await loadRadioIndex(outDir))!.fingerprint).toBe(after.fingerprint);
    expect(readdirSync(outDir).filter((name) => name.includes(before.fingerprint))).toHaveLength(2);
  });

  it("a build stopped halfway leaves the index in use; run again, it writes the bytes of an undisturbed build", async () => {
    const outDir = join(dir, "d");
    const previous = await buildRadioIndex({
      ...options(outDir),
      loadTracks: () => Promise.resolve(world.tracks.slice(0, -8)),
    });
    const stop = new AbortController();
    const stopped = await buildRadioIndex(
      options(outDir),
      (progress) => {
        if (progress.phase === "training" && progress.done === 2) stop.abort();
      },
      stop.signal,
    ).then(
      () => null,
      (error: unknown) => error,
    );
    expect(stopped).toBeInstanceOf(Error);
    expect((await loadRadioIndex(outDir))!.fingerprint).toBe(previous.fingerprint);
    const rerun = await buildRadioIndex(options(outDir));
    expect(rerun.built).toBe(true);
    const undisturbed = filesOf(join(dir, "a"));
    const files = filesOf(outDir);
    for (const name of [`radio-${rerun.fingerprint}.hnsw`, `radio-${rerun.fingerprint}.json`, "current.json"])
      expect(files[name]).toEqual(undisturbed[name]);
  });

  it("reads no buckets before any closed (an empty library or log builds an index of tags alone)", async () => {
    const result = await buildRadioIndex({ ...options(join(dir, "e")), eventsDir: join(dir, "nothing") });
    expect(result.meta).toMatchObject({ plays: 0, sessions: 0, buckets: 0, listenedTracks: 0 });
    const empty = await buildRadioIndex({
      ...options(join(dir, "f")),
      loadTracks: () => Promise.resolve([]),
    });
    expect(empty.meta.tracks).toBe(0);
    expect((await loadRadioIndex(join(dir, "f")))!.size).toBe(0);
  });
});
