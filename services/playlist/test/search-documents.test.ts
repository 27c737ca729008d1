// What the search service indexes, on SQLite and PostgreSQL: live playlists only, paged in id order, each with the
// users who may find it (null when public; the owner and collaborators when private, never followers).
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, testId, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });

describe.each(targets)("playlist search documents on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  const documentsOf = async (params: { playlistIds?: string[]; cursor?: string | null; limit?: number }) =>
    h.call("searchDocuments", params, null);

  it("lists a public playlist for everyone and a private one for its owner and collaborators only", async () => {
    const open = await h.call("create", { name: "Open Jazz", isPublic: true, trackIds: ["t-blue1"] });
    const closed = await h.call("create", { name: "Closed", description: "late nights" }, "bob");
    await h.collaborate(closed.playlist.id, "carol");
    await h.call("follow", { playlistId: open.playlist.id }, "carol");

    const { documents, nextCursor } = await documentsOf({});
    expect(nextCursor).toBeNull();
    const byId = new Map(documents.map((document) => [document.id, document]));
    expect(byId.get(open.playlist.id)).toEqual({
      id: open.playlist.id,
      name: "Open Jazz",
      description: "",
      ownerName: "alice",
      itemCount: 1,
      followers: 1,
      audience: null,
    });
    expect(byId.get(closed.playlist.id)).toMatchObject({
      name: "Closed",
      description: "late nights",
      ownerName: "bob",
      followers: 0,
    });
    expect([...byId.get(closed.playlist.id)!.audience!].sort()).toEqual(["u-bob", "u-carol"]);
  });

  it("leaves followers out of a private playlist's audience, and deleted playlists out altogether", async () => {
    const { playlist } = await h.call("create", { name: "Was Public", isPublic: true });
    await h.call("follow", { playlistId: playlist.id }, "bob");
    await h.call("edit", {
      playlistId: playlist.id,
      baseRevision: 0,
      operations: [{ opId: testId("op"), operation: { type: "setPublic", isPublic: false } }],
    });
    expect((await documentsOf({ playlistIds: [playlist.id] })).documents).toMatchObject([
      { id: playlist.id, followers: 1, audience: ["u-alice"] },
    ]);
    await h.call("delete", { playlistId: playlist.id });
    expect(await documentsOf({ playlistIds: [playlist.id] })).toEqual({ documents: [], nextCursor: null });
    expect((await documentsOf({})).documents).toEqual([]);
  });

  it("pages over every live playlist exactly once, and looks up given ids", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await h.call("create", { name: `Mix ${i}` })).playlist.id);
    await h.call("delete", { playlistId: ids[3]! });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { documents: Array<{ id: string }>; nextCursor: string | null } = await documentsOf({
        cursor,
        limit: 2,
      });
      seen.push(...page.documents.map((document) => document.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    // Sorted here: the database's collation, not JavaScript's, orders the pages.
    expect([...seen].sort()).toEqual(ids.filter((id) => id !== ids[3]).sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(4);
    const lookedUp = await documentsOf({ playlistIds: [ids[0]!, ids[3]!, "unknownplaylist", ids[0]!] });
    expect(lookedUp.documents.map((document) => document.id)).toEqual([ids[0]]);
  });

  it("refuses bad parameters", async () => {
    for (const params of [
      { limit: 0 },
      { limit: 1_001 },
      { cursor: "short" },
      { playlistIds: [] },
      { playlistIds: ["bad id!"] },
      { playlistIds: Array.from({ length: 501 }, (_, i) => `playlist${String(i).padStart(4, "0")}`) },
    ]) {
      const error = await h.failure("searchDocuments", params, null);
      expect(error.code, JSON.stringify(params).slice(0, 80)).toBe("VALIDATION_FAILED");
    }
  });
});
