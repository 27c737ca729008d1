// What `soundmesh transcode` does once parsed: asks the running server to transcode ahead and follows its pushed
// progress with a bar. The server owns the rendition cache, so the work runs there.
import { SingleBar, Presets } from "cli-progress";
import { pushTopics, storageContract, type TranscodeStatus } from "@soundmesh/protocol";
import { promptPassword } from "./prompt";
import { login, openSessionSocket } from "./session-socket";

export interface TranscodeCommandOptions {
  server: string;
  user: string;
  tracks: string;
  all?: boolean;
  profile?: string[];
}

/** A live bar on a terminal; one line per tenth done otherwise (logs, CI). */
class TranscodeProgress {
  private readonly bar: SingleBar | undefined;
  private started = false;
  private lastTenth = -1;

  constructor(interactive: boolean) {
    this.bar = interactive
      ? new SingleBar(
          {
            format: "transcoding [{bar}] {value}/{total} ready | {failed} failed | ETA {eta}s",
            hideCursor: true,
          },
          Presets.shades_classic,
        )
      : undefined;
  }

  update(status: TranscodeStatus): void {
    const finished = status.done + status.failed;
    if (!this.bar) {
      const tenth = status.total === 0 ? 10 : Math.floor((finished / status.total) * 10);
      if (tenth !== this.lastTenth) console.error(`transcode: ${finished}/${status.total}`);
      this.lastTenth = tenth;
      return;
    }
    if (!this.started) {
      this.bar.start(Math.max(status.total, 1), finished, { failed: status.failed });
      this.started = true;
    }
    this.bar.setTotal(Math.max(status.total, 1));
    this.bar.update(finished, { failed: status.failed });
  }

  stop(): void {
    this.bar?.stop();
  }
}

export async function transcode(options: TranscodeCommandOptions): Promise<void> {
  const tracks = options.all ? 1_000_000 : Number(options.tracks);
  if (!Number.isInteger(tracks) || tracks < 1)
    throw new Error("--tracks must be a whole number of at least 1");
  const baseUrl = options.server.replace(/\/$/, "");
  const password = process.env.SOUNDMESH_PASSWORD ?? (await promptPassword(`Password for ${options.user}: `));
  const socket = await openSessionSocket(baseUrl, await login(baseUrl, options.user, password));
  const bar = new TranscodeProgress(process.stderr.isTTY === true);
  try {
    let isIdle = false;
    await socket.follow(pushTopics.transcodeProgress, (status) => {
      bar.update(status);
      isIdle = !status.working;
    });
    const started = await socket.call(storageContract, "transcodeAhead", {
      tracks,
      ...(options.profile ? { profiles: options.profile } : {}),
    });
    bar.update(started);
    // Pushes drive the bar; the status is asked now and then too, since the last push and the answer above
    // may cross on the way.
    let result = started;
    while (result.working) {
      await new Promise((resolve) => setTimeout(resolve, isIdle ? 0 : 1_000));
      result = await socket.call(storageContract, "transcodeStatus", {});
      bar.update(result);
    }
    bar.stop();
    console.log(
      `transcode finished: ${result.done} of ${result.total} ready` +
        (result.failed > 0 ? `, ${result.failed} could not be transcoded (see the server's log)` : ""),
    );
  } finally {
    bar.stop();
    await socket.close();
  }
}
