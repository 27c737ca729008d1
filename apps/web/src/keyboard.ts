// Keyboard shortcuts: space play/pause, ←/→ seek 5 s, shift+←/→ previous/next, ↑/↓ volume, m mute, / search, q queue.
import { useEffect } from "react";
import type { AudioController } from "./audio";
import { navigate } from "./route";

export const shortcuts: Array<[string, string]> = [
  ["Space", "play / pause"],
  ["← →", "seek 5 s"],
  ["Shift + ← →", "previous / next"],
  ["↑ ↓", "volume"],
  ["M", "mute"],
  ["/", "search"],
  ["Q", "queue"],
];

export function useKeyboardShortcuts(audio: AudioController | undefined): void {
  useEffect(() => {
    if (!audio) return;
    let unmutedVolume = 1;
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || target.isContentEditable) return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const state = audio.snapshot();
      const actions: Record<string, () => void> = {
        " ": () => audio.toggle(),
        ArrowLeft: () => void (event.shiftKey ? audio.next(-1) : audio.seek(state.positionSec - 5)),
        ArrowRight: () => void (event.shiftKey ? audio.next(1) : audio.seek(state.positionSec + 5)),
        ArrowUp: () => audio.setVolume(Math.min(1, state.volume + 0.1)),
        ArrowDown: () => audio.setVolume(Math.max(0, state.volume - 0.1)),
        m: () => {
          if (state.volume > 0) unmutedVolume = state.volume;
          audio.setVolume(state.volume > 0 ? 0 : unmutedVolume);
        },
        "/": () => navigate({ name: "search" }),
        q: () => navigate({ name: "queue" }),
      };
      const action = actions[event.key];
      if (!action) return;
      // A focused button would also take the space bar as a click.
      event.preventDefault();
      action();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [audio]);
}
