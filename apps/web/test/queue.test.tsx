// The queue page: it opens at the playing track, and its rows jump, move and go away as the listener asks.
import { fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Queue } from "../src/pages/queue";
import { TestAudio, trackOf } from "./test-audio";

const titles = () =>
  screen.getAllByRole("listitem").map((row) => row.querySelector(".title")?.firstChild?.textContent ?? "");

describe("queue", () => {
  afterEach(() => vi.restoreAllMocks());

  it("says it is empty when nothing is queued", () => {
    render(<Queue audio={new TestAudio().controller} />);
    expect(screen.getByText(/The queue is empty/)).toBeTruthy();
  });

  it("opens scrolled to the playing track, which it marks", async () => {
    const scrolled: Element[] = [];
    vi.spyOn(Element.prototype, "scrollIntoView").mockImplementation(function (this: Element) {
      scrolled.push(this);
    });
    const audio = new TestAudio();
    await audio.playTracks(
      Array.from({ length: 40 }, (_, i) => trackOf(i + 1)),
      29,
    );
    render(<Queue audio={audio.controller} />);
    const playing = screen.getAllByRole("listitem").filter((row) => row.hasAttribute("data-playing"));
    expect(playing).toHaveLength(1);
    expect(within(playing[0]!).getByText("Song 30")).toBeTruthy();
    expect(within(playing[0]!).getByText("▶")).toBeTruthy();
    expect(scrolled).toEqual([playing[0]]);
  });

  it("removes a row, and moves rows up and down", async () => {
    const audio = new TestAudio();
    await audio.playTracks([trackOf(1), trackOf(2), trackOf(3)], 0);
    render(<Queue audio={audio.controller} />);
    expect(titles()).toEqual(["Song 1", "Song 2", "Song 3"]);
    fireEvent.click(screen.getByRole("button", { name: "Remove Song 2 from the queue" }));
    expect(titles()).toEqual(["Song 1", "Song 3"]);
    fireEvent.click(screen.getByRole("button", { name: "Move Song 3 up" }));
    expect(titles()).toEqual(["Song 3", "Song 1"]);
    // The first row cannot go up, the last cannot go down.
    expect(screen.getByRole("button", { name: "Move Song 3 up" }).hasAttribute("disabled")).toBe(true);
    expect(screen.getByRole("button", { name: "Move Song 1 down" }).hasAttribute("disabled")).toBe(true);
    expect(audio.actions.map((a) => [a.name, ...a.args])).toEqual([
      ["playTracks", ["t1", "t2", "t3"], 0],
      ["removeFromQueue", 1],
      ["moveInQueue", 1, 0],
    ]);
  });

  it("moves a row dragged onto another", async () => {
    const audio = new TestAudio();
    await audio.playTracks([trackOf(1), trackOf(2), trackOf(3)], 0);
    render(<Queue audio={audio.controller} />);
    const rows = screen.getAllByRole("listitem");
    const dataTransfer = { effectAllowed: "" };
    fireEvent.dragStart(rows[0]!, { dataTransfer });
    fireEvent.dragOver(rows[2]!, { dataTransfer });
    fireEvent.drop(rows[2]!, { dataTransfer });
    expect(titles()).toEqual(["Song 2", "Song 3", "Song 1"]);
  });

  it("jumps to a row when it is clicked", async () => {
    const audio = new TestAudio();
    await audio.playTracks([trackOf(1), trackOf(2)], 0);
    render(<Queue audio={audio.controller} />);
    fireEvent.click(screen.getByText("Song 2"));
    const playing = screen.getAllByRole("listitem").find((row) => row.hasAttribute("data-playing"));
    expect(playing && within(playing).queryByText("Song 2")).toBeTruthy();
  });
});
