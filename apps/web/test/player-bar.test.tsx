// The player bar as the listener sees it: nothing playing, playing, paused, loading, and a problem.
import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { PlayerBar } from "../src/components/player-bar";
import { TestAudio, trackOf } from "./test-audio";

describe("player bar", () => {
  it("says nothing plays before a track is chosen, and play does nothing then", () => {
    const audio = new TestAudio();
    render(<PlayerBar audio={audio.controller} />);
    expect(screen.getByTestId("now-title").textContent).toBe("Nothing playing");
    fireEvent.click(screen.getByRole("button", { name: "Play" }));
    expect(audio.actions.map((a) => a.name)).toEqual([]);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows the track and its artists, and play toggles to pause", async () => {
    const audio = new TestAudio();
    await audio.playTracks(
      [
        trackOf(1, {
          artists: [
            { id: "a", name: "Ann" },
            { id: "b", name: "Bob" },
          ],
        }),
      ],
      0,
    );
    render(<PlayerBar audio={audio.controller} />);
    expect(screen.getByTestId("now-title").textContent).toBe("Song 1");
    expect(screen.getByTestId("now-artists").textContent).toBe("Ann, Bob");
    expect(screen.getByRole("link", { name: "Bob" }).getAttribute("href")).toBe("#/artist/b");
    fireEvent.click(screen.getByRole("button", { name: "Play" }));
    expect(screen.getByRole("button", { name: "Pause" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Pause" }));
    expect(screen.getByRole("button", { name: "Play" })).toBeTruthy();
    expect(audio.actions.filter((a) => a.name === "toggle")).toHaveLength(2);
  });

  it("shows a busy spinner in place of play while the track loads", async () => {
    const audio = new TestAudio();
    await audio.playTracks([trackOf(1)], 0);
    render(<PlayerBar audio={audio.controller} />);
    act(() => audio.set({ loading: true }));
    const button = screen.getByRole("button", { name: "Loading" });
    expect(button.getAttribute("aria-busy")).toBe("true");
    expect(button.querySelector(".spinner")).not.toBeNull();
    expect(screen.queryByRole("button", { name: "Play" })).toBeNull();
    act(() => audio.set({ loading: false, playing: true }));
    expect(screen.getByRole("button", { name: "Pause" }).getAttribute("aria-busy")).toBeNull();
  });

  it("shows a skipped track's error, and a network problem before it", async () => {
    const audio = new TestAudio();
    await audio.playTracks([trackOf(1)], 0);
    render(<PlayerBar audio={audio.controller} />);
    act(() => audio.set({ error: 'Skipped "Song 1": the file is damaged' }));
    expect(screen.getByRole("alert").textContent).toBe('Skipped "Song 1": the file is damaged');
    act(() => audio.set({ networkProblem: "The server cannot be reached: retrying…" }));
    expect(screen.getByRole("alert").textContent).toBe("The server cannot be reached: retrying…");
    // A network problem alone (no track skipped) shows too.
    act(() => audio.set({ error: undefined }));
    expect(screen.getByRole("alert").textContent).toBe("The server cannot be reached: retrying…");
    act(() => audio.set({ networkProblem: undefined }));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows the position and duration, and its controls reach the controller", async () => {
    const audio = new TestAudio();
    await audio.playTracks([trackOf(1), trackOf(2)], 0);
    render(<PlayerBar audio={audio.controller} />);
    act(() => audio.set({ positionSec: 65.4 }));
    expect(screen.getByTestId("position").textContent).toBe("1:05");
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(screen.getByTestId("now-title").textContent).toBe("Song 2");
    fireEvent.click(screen.getByRole("button", { name: "Repeat: off" }));
    expect(screen.getByRole("button", { name: "Repeat: all" }).getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(screen.getByRole("button", { name: "Shuffle" }));
    expect(screen.getByRole("button", { name: "Shuffle" }).getAttribute("aria-pressed")).toBe("true");
    fireEvent.change(screen.getByRole("slider", { name: "Volume" }), { target: { value: "0.25" } });
    expect(audio.actions.at(-1)).toEqual({ name: "setVolume", args: [0.25] });
  });
});
