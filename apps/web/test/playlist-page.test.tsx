// A playlist page: its "More" menu (what each role may do, keyboard, a change made from it) and its rows, where an
// item whose track left the library shows greyed with what it was, and is not played.
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  catalogContract,
  playlistContract,
  type PlaylistInfo,
  type PlaylistRevision,
  type PlaylistSnapshot,
} from "@soundmesh/protocol";
import { Playlist } from "../src/pages/playlist";
import { SessionWire } from "./session-wire";
import { TestAudio, trackOf } from "./test-audio";

const PLAYLIST = "playlist-0001";

function info(role: PlaylistInfo["access"]["role"]): PlaylistInfo {
  return {
    id: PLAYLIST,
    ownerId: "user-1",
    ownerName: "ada",
    name: "Road trip",
    description: "",
    isPublic: true,
    isCollaborative: false,
    collaborators: [],
    followerCount: 3,
    revision: 4,
    itemCount: 3,
    hasUploadedCover: false,
    smartRules: null,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    access: { role, canEdit: role === "owner" || role === "collaborator", isFollowing: role === "follower" },
  };
}

/** The playlist service's part for one playlist: its snapshot, edits applied in turn (one client: nothing to rebase), and what it missed. */
function playlistWire(role: PlaylistInfo["access"]["role"]) {
  const snapshot: PlaylistSnapshot = {
    playlist: info(role),
    items: ["t1", "t2", "t3"].map((trackId, i) => ({
      itemId: `item-000${i + 1}`,
      trackId,
      addedBy: "user-1",
      addedAt: 1_700_000_000_000,
    })),
  };
  const history: PlaylistRevision[] = [];
  const wire = new SessionWire()
    .answer(playlistContract, "get", () => snapshot)
    .answer(playlistContract, "changesSince", ({ revision }) => ({
      kind: "revisions" as const,
      revision: snapshot.playlist.revision,
      revisions: history.filter((r) => r.revision > revision),
    }))
    .answer(playlistContract, "sentInvitations", () => [])
    .answer(playlistContract, "edit", ({ baseRevision, operations }) => {
      const applied: PlaylistRevision[] = operations.map((op, i) => ({
        revision: baseRevision + i + 1,
        opId: op.opId,
        author: "user-1",
        at: 1_700_000_100_000,
        operation: op.operation,
      }));
      history.push(...applied);
      snapshot.playlist.revision = baseRevision + operations.length;
      return { revision: snapshot.playlist.revision, applied };
    })
    .answer(playlistContract, "delete", () => ({ ok: true as const }))
    // The library no longer has t2: the page asks what it was.
    .answer(catalogContract, "tracks", ({ trackIds }) =>
      trackIds.filter((id) => id !== "t2").map((id) => trackOf(Number(id.slice(1)))),
    )
    .answer(playlistContract, "trackSnapshots", ({ trackIds }) =>
      trackIds.map((trackId) => ({
        trackId,
        title: "Gone Song",
        artist: "Old Band",
        album: "Lost Album",
        durationMs: 200_000,
      })),
    );
  return wire;
}

async function renderPlaylist(role: PlaylistInfo["access"]["role"]) {
  const wire = playlistWire(role);
  const audio = new TestAudio();
  const connection = wire.client();
  await connection.opened();
  render(<Playlist connection={connection} playlistId={PLAYLIST} audio={audio.controller} userId="user-1" />);
  await screen.findByText("Gone Song");
  return { wire, audio };
}

const menuButton = () => screen.getByRole("button", { name: "More playlist actions" });
const menuItems = () =>
  [...screen.getByRole("menu", { hidden: true }).querySelectorAll('[role^="menuitem"]')].map(
    (item) => item.textContent,
  );

describe("playlist page", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("greys an item whose track left the library, says what it was, and plays around it", async () => {
    const { audio } = await renderPlaylist("owner");
    expect(screen.getByTestId("unavailable-count").textContent).toBe(" · 1 unavailable");
    const gone = screen.getByText("Gone Song").closest("button")!;
    expect(gone.className).toContain("unavailable");
    expect(gone.hasAttribute("disabled")).toBe(true);
    expect(gone.getAttribute("title")).toBe("This song is no longer in the library");
    expect(within(gone).getByText("Unavailable")).toBeTruthy();
    expect(gone.textContent).toContain("Old Band · Lost Album · ");
    fireEvent.click(screen.getByRole("button", { name: "Play" }));
    expect(audio.actions.at(-1)).toEqual({ name: "playTracks", args: [["t1", "t3"], 0] });
  });

  it("opens its menu with the owner's items, moves among them with the keys, and closes on Escape", async () => {
    await renderPlaylist("owner");
    expect(menuButton().getAttribute("aria-expanded")).toBe("false");
    expect(screen.getByRole("menu", { hidden: true }).hidden).toBe(true);
    fireEvent.click(menuButton());
    expect(menuButton().getAttribute("aria-expanded")).toBe("true");
    const menu = screen.getByRole("menu");
    expect(menuItems()).toEqual([
      "Make available offline",
      "Export M3U8",
      "Export XSPF",
      "Change cover…",
      "Collaborative",
      "Public",
      "Delete…",
    ]);
    await waitFor(() => expect(document.activeElement?.textContent).toBe("Make available offline"));
    fireEvent.keyDown(menu, { key: "ArrowDown" });
    expect(document.activeElement?.textContent).toBe("Export M3U8");
    fireEvent.keyDown(menu, { key: "End" });
    expect(document.activeElement?.textContent).toBe("Delete…");
    fireEvent.keyDown(menu, { key: "ArrowDown" });
    expect(document.activeElement?.textContent).toBe("Make available offline");
    expect(within(menu).getByRole("menuitemcheckbox", { name: "Public" }).getAttribute("aria-checked")).toBe(
      "true",
    );
    fireEvent.keyDown(menu, { key: "Escape" });
    expect(menuButton().getAttribute("aria-expanded")).toBe("false");
    expect(document.activeElement).toBe(menuButton());
  });

  it("makes the playlist private from the menu: the heading says so at once and the edit reaches the server", async () => {
    const { wire } = await renderPlaylist("owner");
    expect(screen.getByText(/Playlist · public · 3 followers/)).toBeTruthy();
    fireEvent.click(menuButton());
    fireEvent.click(screen.getByRole("menuitemcheckbox", { name: "Public" }));
    expect(menuButton().getAttribute("aria-expanded")).toBe("false");
    expect(screen.queryByText(/ · public/)).toBeNull();
    await waitFor(() => expect(wire.paramsOf(playlistContract, "edit")).toHaveLength(1));
    expect(wire.paramsOf(playlistContract, "edit")[0]).toMatchObject({
      playlistId: PLAYLIST,
      baseRevision: 4,
      operations: [{ operation: { type: "setPublic", isPublic: false } }],
    });
    await waitFor(() => expect(screen.queryByText(/saving…/)).toBeNull());
    expect(wire.problems.join("\n")).toBe("");
  });

  it("deletes the playlist only once confirmed, then goes to the list", async () => {
    const { wire } = await renderPlaylist("owner");
    const confirm = vi
      .fn<(message: string) => boolean>()
      .mockReturnValueOnce(false)
      .mockReturnValueOnce(true);
    vi.stubGlobal("confirm", confirm);
    fireEvent.click(menuButton());
    fireEvent.click(screen.getByRole("menuitem", { name: "Delete…" }));
    expect(confirm).toHaveBeenLastCalledWith('Delete the playlist "Road trip"?');
    expect(wire.paramsOf(playlistContract, "delete")).toEqual([]);
    fireEvent.click(menuButton());
    fireEvent.click(screen.getByRole("menuitem", { name: "Delete…" }));
    await waitFor(() => expect(location.hash).toBe("#/playlists"));
    expect(wire.paramsOf(playlistContract, "delete")).toEqual([{ playlistId: PLAYLIST }]);
  });

  it("offers a viewer only what a listener may do: no edits, no owner items, follow", async () => {
    await renderPlaylist("viewer");
    fireEvent.click(menuButton());
    expect(menuItems()).toEqual(["Make available offline", "Export M3U8", "Export XSPF"]);
    expect(screen.queryByRole("textbox", { name: "Playlist name" })).toBeNull();
    expect(screen.getByRole("heading", { name: "Road trip" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Remove .* from the playlist/ })).toBeNull();
    expect(screen.getByRole("button", { name: "Follow" })).toBeTruthy();
    act(() => menuButton().focus());
  });
});
