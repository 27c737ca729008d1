// The playlist keeper fetches a changed playlist at once after a quiet spell, and the changes heard while it keeps
// the gap after a fetch all together, once: a hot playlist is not fetched once per change.
import { afterEach, describe, expect, it } from "vitest";
import pino from "pino";
import type { PlaylistSearchDocument } from "@soundmesh/protocol";
import { createPlaylistKeeper, type PlaylistKeeper } from "../src/playlist-keeper";

/** The playlist `id` as of its `version`th change: its name says which. */
const documentOf = (id: string, version: number): PlaylistSearchDocument => ({
  id,
  name: `${id} mix ${version}`,
  description: "",
  ownerName: "alice",
  itemCount: version,
  followers: 0,
  audience: null,
});

let keeper: PlaylistKeeper | undefined;
/** Ends the gap the keeper waits out (a test that fails while it waits must not hold the keeper's stop). */
let endGap = () => undefined as void;
afterEach(async () => {
  endGap();
  await keeper?.stop();
});

describe("the playlist keeper", () => {
  it("fetches the first change at once and the changes heard during the gap together, after it", async () => {
    const stored = new Map([["hot", documentOf("hot", 0)]]);
    const fetches: string[][] = [];
    const gaps: number[] = [];
    keeper = createPlaylistKeeper({
      source: {
        async *loadPages() {
          yield await Promise.resolve([...stored.values()]);
        },
        fetch(ids) {
          fetches.push([...ids]);
          return Promise.resolve(ids.flatMap((id) => stored.get(id) ?? []));
        },
      },
      logger: pino({ level: "silent" }),
      clock: { now: () => Date.now() },
      fetchGap: {
        ms: 60_000,
        wait: (ms) => {
          gaps.push(ms);
          return new Promise((resolve) => (endGap = resolve));
        },
      },
    });
    keeper.rebuild();
    await keeper.built();
    /** The hot playlist's name as the index has it. */
    const indexed = () =>
      keeper!.index.ranked("mix", undefined, 10).ranked.find((hit) => hit.hit.id === "hot")?.hit.title;
    stored.set("hot", documentOf("hot", 1));
    keeper.changed("hot");
    await expect.poll(indexed).toBe("hot mix 1");
    expect(fetches).toEqual([["hot"]]);
    // Twenty more changes while the gap is kept: none is fetched until it ends, then all of them at once.
    for (let count = 2; count <= 21; count++) {
      stored.set("hot", documentOf("hot", count));
      keeper.changed("hot");
    }
    stored.set("other", documentOf("other", 5));
    keeper.changed("other");
    await expect.poll(() => gaps.length).toBe(1);
    expect(fetches).toHaveLength(1);
    expect(indexed()).toBe("hot mix 1");
    endGap();
    await expect.poll(indexed).toBe("hot mix 21");
    expect(fetches).toEqual([["hot"], ["hot", "other"]]);
  });
});
