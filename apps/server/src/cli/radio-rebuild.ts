// `soundmesh radio rebuild`: the build on the data dir directly (the catalog's tables, the event bucket files), with
// a progress bar; Ctrl-C stops it and leaves the index in use as it was.
import { SingleBar, Presets } from "cli-progress";
import type { BuildProgress } from "@soundmesh/service-recommend";
import { configFrom, type GlobalOptions } from "./config-from";

export async function rebuildRadio(options: GlobalOptions): Promise<void> {
  const config = configFrom(options);
  const [
    { buildRadioIndex, recommendManifest },
    { radioBuildOptions },
    { startCatalogService },
    wiring,
    logging,
  ] = await Promise.all([
    import("@soundmesh/service-recommend"),
    import("../recommend-wiring"),
    import("../catalog-wiring"),
    import("../wiring"),
    import("../logger"),
  ]);
  const logger = logging.createLogger("warn");
  const db = wiring.openDb(config, logger);
  const bus = wiring.createBusFor(config, logger);
  const bar = new BuildProgressBar(process.stderr.isTTY === true);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  try {
    // The catalog reads its tables only: no scan, no watching, whatever the library folders are.
    const catalog = await startCatalogService(config, logger, bus, db, [], false);
    try {
      const result = await buildRadioIndex(
        radioBuildOptions(config, bus.connect(recommendManifest)),
        (progress) => bar.update(progress),
        stop.signal,
      );
      bar.stop();
      const { meta } = result;
      console.log(
        `${result.built ? "built" : "already built (same input)"}: ${meta.tracks} tracks, ` +
          `${meta.listenedTracks} placed by listening (${meta.plays} plays in ${meta.sessions} sessions, ` +
          `${meta.buckets} closed buckets), the rest by their tags → ${result.indexPath}`,
      );
    } finally {
      await catalog.stop();
    }
  } finally {
    bar.stop();
    process.off("SIGINT", onSignal);
    await bus.close();
    await db.close();
  }
}

/** A live bar per phase on a terminal, one line per phase otherwise (logs, CI). */
class BuildProgressBar {
  private readonly bar: SingleBar | undefined;
  private phase: string | undefined;

  constructor(interactive: boolean) {
    this.bar = interactive
      ? new SingleBar({ format: "{phase} [{bar}] {value}/{total}", hideCursor: true }, Presets.shades_classic)
      : undefined;
  }

  update(progress: BuildProgress): void {
    if (progress.phase !== this.phase) {
      this.phase = progress.phase;
      if (!this.bar) console.error(`radio: ${progress.phase}`);
      else {
        this.bar.stop();
        if (progress.phase !== "done")
          this.bar.start(Math.max(progress.total, 1), progress.done, { phase: progress.phase.padEnd(8) });
      }
      return;
    }
    this.bar?.update(progress.done, { phase: progress.phase.padEnd(8) });
  }

  stop(): void {
    this.bar?.stop();
  }
}
