// Track rows: what plays is marked, a loading row spins, a track that could not play says why, rows queue tracks.
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { TrackList } from "../src/components/track-list";
import { TestAudio, trackOf } from "./test-audio";

const rowOf = (title: string) => screen.getByText(title).closest("li")!;

describe("track list", () => {
  it("plays from the clicked row and marks it", () => {
    const audio = new TestAudio();
    const tracks = [trackOf(1), trackOf(2), trackOf(3)];
    render(<TrackList tracks={tracks} audio={audio.controller} />);
    expect(screen.getAllByRole("listitem").filter((row) => row.hasAttribute("data-playing"))).toEqual([]);
    fireEvent.click(screen.getByText("Song 2"));
    expect(audio.actions.at(-1)).toEqual({ name: "playTracks", args: [["t1", "t2", "t3"], 1] });
    expect(rowOf("Song 2").hasAttribute("data-playing")).toBe(true);
    expect(rowOf("Song 1").hasAttribute("data-playing")).toBe(false);
  });

  it("shows a spinner on the row that loads, and why a track could not play", async () => {
    const audio = new TestAudio();
    const tracks = [trackOf(1), trackOf(2)];
    render(<TrackList tracks={tracks} audio={audio.controller} />);
    await act(() => audio.playTracks(tracks, 0));
    act(() => audio.set({ loading: true }));
    expect(within(rowOf("Song 1")).getByRole("img", { name: "Loading" })).toBeTruthy();
    expect(rowOf("Song 1").getAttribute("aria-busy")).toBe("true");
    expect(within(rowOf("Song 2")).queryByRole("img", { name: "Loading" })).toBeNull();
    act(() => audio.set({ loading: false }, { t2: "the file is damaged" }));
    expect(rowOf("Song 2").hasAttribute("data-failed")).toBe(true);
    expect(within(rowOf("Song 2")).getByRole("status").textContent).toBe("Cannot play: the file is damaged");
    expect(rowOf("Song 1").hasAttribute("data-failed")).toBe(false);
  });

  it("numbers by track number on album pages, with disc headings", () => {
    const audio = new TestAudio();
    const tracks = [
      trackOf(1, { trackNumber: 7, discNumber: 1 }),
      trackOf(2, { trackNumber: 1, discNumber: 2 }),
    ];
    render(
      <TrackList
        tracks={tracks}
        audio={audio.controller}
        numbered="track"
        sectionOf={(t) => `Disc ${t.discNumber}`}
      />,
    );
    expect(screen.getAllByRole("heading").map((h) => h.textContent)).toEqual(["Disc 1", "Disc 2"]);
    expect(rowOf("Song 1").querySelector(".number")?.textContent).toBe("7");
    expect(rowOf("Song 2").querySelector(".number")?.textContent).toBe("1");
  });

  it("queues a row next or last", async () => {
    const audio = new TestAudio();
    await audio.playTracks([trackOf(9)], 0);
    render(<TrackList tracks={[trackOf(1), trackOf(2)]} audio={audio.controller} />);
    fireEvent.click(screen.getByRole("button", { name: "Add Song 1 to the queue" }));
    fireEvent.click(screen.getByRole("button", { name: "Play Song 2 next" }));
    expect(audio.queue.items.map((entry) => entry.track.id)).toEqual(["t9", "t2", "t1"]);
  });
});
