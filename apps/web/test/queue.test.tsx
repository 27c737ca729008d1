// The queue page: it opens at the playing track, and its rows jump, move and go away as the listener asks.
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { catalogContract, eventsContract } from "@soundmesh/protocol";
import { Queue } from "../src/pages/queue";
import { SessionWire } from "./session-wire";
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

  it("offers the queue another device saved, and resumes it where that device was", async () => {
    const wire = new SessionWire()
      .answer(eventsContract, "loadQueue", () => ({
        trackIds: ["t1", "t2", "t3"],
        currentIndex: 1,
        positionMs: 42_000,
        device: "Firefox on laptop",
        updatedAt: 1_700_000_000_000,
        revision: 3,
      }))
      // t3 left the library since: resumed without it.
      .answer(catalogContract, "tracks", ({ trackIds }) =>
        trackIds.filter((id) => id !== "t3").map((id) => trackOf(Number(id.slice(1)))),
      );
    const audio = new TestAudio();
    await audio.playTracks([trackOf(9)], 0);
    render(<Queue audio={audio.controller} connection={wire.client()} />);
    const offer = await screen.findByRole("button", {
      name: "Resume the queue from Firefox on laptop (2 tracks)",
    });
    fireEvent.click(offer);
    await waitFor(() => expect(titles()).toEqual(["Song 1", "Song 2"]));
    expect(screen.queryByRole("button", { name: /Resume the queue/ })).toBeNull();
    expect(audio.actions.slice(-2)).toEqual([
      { name: "playTracks", args: [["t1", "t2"], 1] },
      { name: "seek", args: [42] },
    ]);
  });
});
