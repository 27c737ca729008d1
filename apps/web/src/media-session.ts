// The Media Session API: the OS's media keys, lock screen and notification show and control what plays.
import type { AudioController } from "./audio";

export class MediaSessionBridge {
  private handlersSet = false;

  constructor(private readonly controller: AudioController) {
    controller.audio.addEventListener("play", () => this.setState("playing"));
    controller.audio.addEventListener("pause", () => this.setState("paused"));
    controller.audio.addEventListener("durationchange", () => this.updatePosition());
  }

  private get session(): MediaSession | undefined {
    return "mediaSession" in navigator ? navigator.mediaSession : undefined;
  }

  private setState(state: MediaSessionPlaybackState): void {
    if (this.session) this.session.playbackState = state;
    this.updatePosition();
  }

  private updatePosition(): void {
    const { positionSec, durationSec } = this.controller.snapshot();
    if (!this.session || durationSec <= 0) return;
    try {
      this.session.setPositionState({ duration: durationSec, position: Math.min(positionSec, durationSec) });
    } catch {
      // A position beyond the duration for an instant at a boundary: the next update corrects it.
    }
  }

  /** Called when the track changes. */
  update(): void {
    const session = this.session;
    const track = this.controller.queue.current;
    if (!session || !track) return;
    session.metadata = new MediaMetadata({
      title: track.title,
      artist: track.artist,
      album: track.album,
      // Artwork only where the record says there is some: the browser fetches it, and a missing one is a 404.
      artwork: track.hasCover
        ? [
            { src: `/api/cover/${track.albumId}?size=300`, sizes: "300x300", type: "image/jpeg" },
            { src: `/api/cover/${track.albumId}?size=600`, sizes: "600x600", type: "image/jpeg" },
          ]
        : [],
    });
    this.updatePosition();
    if (this.handlersSet) return;
    this.handlersSet = true;
    const c = this.controller;
    session.setActionHandler("play", () => void c.audio.play());
    session.setActionHandler("pause", () => c.audio.pause());
    session.setActionHandler("nexttrack", () => void c.next(1));
    session.setActionHandler("previoustrack", () => void c.next(-1));
    session.setActionHandler("seekto", (details) => void c.seek(details.seekTime ?? 0));
    session.setActionHandler(
      "seekbackward",
      (details) => void c.seek(c.snapshot().positionSec - (details.seekOffset ?? 10)),
    );
    session.setActionHandler(
      "seekforward",
      (details) => void c.seek(c.snapshot().positionSec + (details.seekOffset ?? 10)),
    );
  }
}
