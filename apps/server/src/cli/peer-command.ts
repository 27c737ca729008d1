// `soundmesh peer`: a headless listener that plays tracks without sound and serves them to others, printing a
// JSON report of bytes by source, stutters and uploads when done. The engine and WebRTC load only when it runs.
import type { Command } from "commander";

interface PeerCommandOptions {
  server: string;
  user: string;
  track: string[];
  profile: string;
  speed: string;
  uploadLimit?: string;
  upload: boolean;
  p2p: boolean;
  relayOnly?: boolean;
  lingerSeconds: string;
  eventsDrainSeconds: string;
}

export function addPeerCommand(program: Command): void {
  program
    .command("peer")
    .description(
      "a headless listener: logs in, plays tracks at real-time speed without sound, caches and serves them",
    )
    .requiredOption("-s, --server <url>", "the soundmesh server, e.g. http://127.0.0.1:7700")
    .requiredOption("-u, --user <name>", "account to log in as (password from SOUNDMESH_PASSWORD)")
    .requiredOption("-t, --track <id...>", "track ids to play, in order")
    .option("--profile <name>", "rendition profile", "opus96")
    .option("--speed <factor>", "playback speed; 1 is real time", "1")
    .option("--upload-limit <bytesPerSecond>", "cap on upload rate (default: none)")
    .option("--no-upload", "do not serve pieces to other listeners")
    .option("--no-p2p", "server and cache only (for comparisons)")
    .option("--relay-only", "reach other peers only through the server's TURN relays")
    .option("--linger-seconds <n>", "keep serving this long after playing (0: leave at once)", "0")
    .option(
      "--events-drain-seconds <n>",
      "on leaving, wait this long for waiting listening events to reach the server (the rest stay in the outbox)",
      "10",
    )
    .action(async (options: PeerCommandOptions, command: Command) => {
      const password = process.env.SOUNDMESH_PASSWORD;
      if (password === undefined) throw new Error("set SOUNDMESH_PASSWORD to the account's password");
      const speed = Number(options.speed);
      const lingerMs = Number(options.lingerSeconds) * 1000;
      const drainMs = Number(options.eventsDrainSeconds) * 1000;
      if (!(speed > 0) || !(lingerMs >= 0) || !(drainMs >= 0))
        throw new Error("--speed must be > 0, --linger-seconds and --events-drain-seconds >= 0");
      // The global --data-dir holds the peer's listening-event outbox (events-outbox.jsonl); without it a
      // temporary folder does, and events waiting at exit do not outlive the process.
      const dataDir =
        command.optsWithGlobals<{ dataDir?: string }>().dataDir ?? process.env.SOUNDMESH_PEER_DATA_DIR;
      const { releaseWebRtc, startHeadlessPeer } = await import("./headless-peer");
      const peer = await startHeadlessPeer({
        baseUrl: options.server.replace(/\/$/, ""),
        name: options.user,
        password,
        trackIds: options.track,
        profile: options.profile,
        speed,
        p2p: options.p2p,
        ...(options.relayOnly ? { relayOnly: true } : {}),
        ...(dataDir ? { dataDir } : {}),
        eventsDrainMs: drainMs,
        upload: {
          enabled: options.upload,
          ...(options.uploadLimit ? { bytesPerSecond: Number(options.uploadLimit) } : {}),
        },
      });
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      try {
        await Promise.race([
          peer.played,
          new Promise((resolve) => stop.signal.addEventListener("abort", resolve)),
        ]);
        if (!stop.signal.aborted && lingerMs > 0)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, lingerMs);
            stop.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              resolve();
            });
          });
        const report = peer.report();
        await peer.close();
        // The events figures after close: what the drain sent, what stays in the outbox.
        console.log(JSON.stringify({ ...report, events: peer.report().events }));
      } finally {
        await peer.close();
        releaseWebRtc();
      }
    });
}
