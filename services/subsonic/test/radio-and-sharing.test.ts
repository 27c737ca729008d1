// The rest of the OpenSubsonic API against a real server on the fixture libraries: similar songs and artists from
// our radio, bookmarks, internet radio stations, shares and their public page, the transcoding extension.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recommendContract } from "@soundmesh/protocol";
import { waitUntil } from "@soundmesh/test-kit";
import { USER, passwordAuth, startHarness, type Harness } from "./harness";
import { shapes } from "./schemas";

let harness: Harness;
let albumId: string;
let trackIds: string[];
let artistId: string;

type Songs = { song?: Array<{ id: string; artistId: string; artists: Array<{ id: string }> }> };

beforeAll(async () => {
  harness = await startHarness();
  const list = await harness.json("getAlbumList2", { type: "alphabeticalByName", size: "500" });
  const albums = (list.albumList2 as { album: Array<{ id: string; name: string; artistId: string }> }).album;
  const album = albums.find((candidate) => candidate.name === "Ágætis byrjun")!;
  albumId = album.id;
  artistId = album.artistId;
  const detail = await harness.json("getAlbum", { id: albumId });
  trackIds = (detail.album as { song: Array<{ id: string }> }).song.map((song) => song.id);
  // The radio index the server built at start may predate the scan: build it over the whole library.
  await waitUntil(
    async () => {
      const status = await harness.adminWs.call(recommendContract, "status", {});
      if (!status.building && status.tracks !== harness.audioFiles)
        await harness.adminWs.call(recommendContract, "rebuild", {});
      return status;
    },
    (status) => status.loaded && !status.building && status.tracks === harness.audioFiles,
    120_000,
    200,
  );
}, 240_000);
afterAll(async () => harness?.close());

describe("similar songs and artists from the radio", () => {
  it("getSimilarSongs from a song, an album and an artist answers other songs of the library", async () => {
    for (const id of [trackIds[0]!, albumId, artistId]) {
      const response = await harness.json("getSimilarSongs", { id, count: "10" });
      const { song = [] } = response.similarSongs as Songs;
      shapes("json").similarSongs.parse(response.similarSongs);
      expect(song.length, id).toBeGreaterThan(0);
      expect(song.length).toBeLessThanOrEqual(10);
      expect(song.every((entry) => entry.id.startsWith("tr-"))).toBe(true);
      if (id.startsWith("tr-")) expect(song.map((entry) => entry.id)).not.toContain(id);
    }
  });

  it("getSimilarSongs2 from an artist answers songs in XML and JSON; count bounds the list", async () => {
    const json = await harness.json("getSimilarSongs2", { id: artistId, count: "3" });
    const { song = [] } = json.similarSongs2 as Songs;
    expect(song.length).toBeGreaterThan(0);
    expect(song.length).toBeLessThanOrEqual(3);
    const xml = await harness.xml("getSimilarSongs2", { id: artistId, count: "3" });
    expect(shapes("xml").similarSongs.safeParse(xml.similarSongs2).success).toBe(true);
    expect(((xml.similarSongs2 as Songs).song ?? []).map((entry) => entry.id)).toEqual(
      song.map((entry) => entry.id),
    );
    expect(await harness.json("getSimilarSongs2", { id: artistId, count: "0" })).toMatchObject({
      similarSongs2: {},
    });
  });

  it("getArtistInfo2 names similar artists from the radio's neighbours, never the artist itself", async () => {
    const info = (await harness.json("getArtistInfo2", { id: artistId })).artistInfo2 as {
      similarArtist?: Array<{ id: string; name: string }>;
    };
    const similar = info.similarArtist ?? [];
    expect(similar.length).toBeGreaterThan(0);
    expect(similar.map((artist) => artist.id)).not.toContain(artistId);
    for (const artist of similar.slice(0, 3))
      expect(await harness.json("getArtist", { id: artist.id })).toMatchObject({ status: "ok" });
    const one = (await harness.json("getArtistInfo", { id: artistId, count: "1" })).artistInfo as {
      similarArtist?: unknown[];
    };
    expect(one.similarArtist).toHaveLength(1);
  });

  it("refuses a missing id (10), an unknown or wrong-kind id (70), for every caller", async () => {
    for (const method of ["getSimilarSongs", "getSimilarSongs2"]) {
      expect(await harness.json(method, {})).toMatchObject({ error: { code: 10 } });
      expect(await harness.json(method, { id: "ar-nosuchartist" })).toMatchObject({ error: { code: 70 } });
    }
    expect(await harness.json("getSimilarSongs2", { id: trackIds[0]! })).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("getSimilarSongs", { id: "tr-nosuchtrack" })).toMatchObject({
      error: { code: 70 },
    });
    expect(await harness.json("getSimilarSongs", { id: artistId }, passwordAuth(USER))).toMatchObject({
      status: "ok",
    });
    expect(
      await harness.json("getSimilarSongs", { id: artistId }, { u: USER.name, p: "wrong" }),
    ).toMatchObject({ error: { code: 40 } });
  });
});
