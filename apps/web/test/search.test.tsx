// Search as you type: hits grouped by kind under their headings, "Nothing matches" only for the query on screen.
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { AppError, catalogContract, searchContract, type SearchHit } from "@soundmesh/protocol";
import { Search } from "../src/pages/search";
import { SessionWire } from "./session-wire";
import { TestAudio, trackOf } from "./test-audio";

const hit = (kind: SearchHit["kind"], id: string, title: string): SearchHit => ({
  id,
  kind,
  title,
  subtitle: `${kind} subtitle`,
  score: 1,
  match: "prefix",
});

/** Given, answers to queries wait until it resolves (a slow server, in the test's hands). */
let gate: Promise<void> | undefined;

function searchWire(): SessionWire {
  gate = undefined;
  return new SessionWire()
    .answer(searchContract, "query", async ({ q }) => {
      await gate;
      const groups =
        q === "blue"
          ? [
              { kind: "artist" as const, hits: [hit("artist", "ar1", "Blue Band")], total: 1 },
              { kind: "album" as const, hits: [], total: 0 },
              {
                kind: "track" as const,
                hits: [hit("track", "t1", "Blue Song"), hit("track", "t2", "Blues")],
                total: 14,
              },
              { kind: "playlist" as const, hits: [hit("playlist", "p1", "Blue Mood")], total: 1 },
            ]
          : [];
      return { hits: [], total: 0, groups, indexVersion: 1 };
    })
    .answer(catalogContract, "track", ({ trackId }) => {
      if (trackId !== "t1") throw new AppError("NOT_FOUND", "No such track");
      return trackOf(1, { title: "Blue Song" });
    });
}

describe("search", () => {
  it("groups the hits under each kind's heading, in order, with how many matched in all", async () => {
    const wire = searchWire();
    render(<Search connection={wire.client()} audio={new TestAudio().controller} />);
    fireEvent.change(screen.getByRole("textbox", { name: "Search" }), { target: { value: "blue" } });
    const songs = await screen.findByRole("region", { name: "Songs" });
    expect(screen.getAllByRole("region").map((group) => group.getAttribute("aria-label"))).toEqual([
      "Artists",
      "Songs",
      "Playlists",
    ]);
    expect(within(songs).getByRole("heading").textContent).toBe("Songs · 14 in all");
    expect(
      within(songs)
        .getAllByRole("listitem")
        .map((li) => li.querySelector("strong")?.textContent),
    ).toEqual(["Blue Song", "Blues"]);
    expect(within(screen.getByRole("region", { name: "Artists" })).getByRole("heading").textContent).toBe(
      "Artists",
    );
    expect(screen.queryByText(/Nothing matches/)).toBeNull();
    expect(wire.paramsOf(searchContract, "query").at(-1)).toMatchObject({ q: "blue", perKind: 6 });
    expect(wire.problems).toEqual([]);
  });

  it("says nothing matches, only once the answer is for the query on screen", async () => {
    const wire = searchWire();
    render(<Search connection={wire.client()} audio={new TestAudio().controller} />);
    const box = screen.getByRole("textbox", { name: "Search" });
    fireEvent.change(box, { target: { value: "blue" } });
    await screen.findByRole("region", { name: "Songs" });
    fireEvent.change(box, { target: { value: "zzz " } });
    expect((await screen.findByRole("status")).textContent).toBe("Nothing matches “zzz”.");
    expect(screen.queryAllByRole("region")).toEqual([]);
    // Typed on while the server has not answered: the last answer was for another query, so it says nothing.
    let release = () => undefined as void;
    gate = new Promise<void>((resolve) => (release = resolve));
    fireEvent.change(box, { target: { value: "zzzq" } });
    await waitFor(() => expect(wire.paramsOf(searchContract, "query").at(-1)?.q).toBe("zzzq"));
    expect(screen.queryByRole("status")).toBeNull();
    release();
    expect((await screen.findByRole("status")).textContent).toBe("Nothing matches “zzzq”.");
    fireEvent.change(box, { target: { value: "" } });
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("plays a song hit, and shows the server's refusal for one it no longer has", async () => {
    const wire = searchWire();
    const audio = new TestAudio();
    render(<Search connection={wire.client()} audio={audio.controller} />);
    fireEvent.change(screen.getByRole("textbox", { name: "Search" }), { target: { value: "blue" } });
    fireEvent.click(await screen.findByText("Blue Song"));
    await waitFor(() => expect(audio.queue.current?.title).toBe("Blue Song"));
    fireEvent.click(screen.getByText("Blues"));
    expect((await screen.findByText("No such track")).className).toBe("error");
  });
});
