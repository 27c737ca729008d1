// Bookmarks, internet radio stations and shares, on the events service (where they are stored, on SQLite or
// PostgreSQL): getBookmarks/createBookmark/deleteBookmark, getInternetRadioStations and the administrators'
// create/update/delete, and createShare/getShares/updateShare/deleteShare with the public page's links.
import {
  MAX_SHARE_TRACKS,
  catalogContract,
  eventsContract,
  playlistContract,
  type RadioStation,
  type Share,
} from "@soundmesh/protocol";
import { tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { idOfKind, subsonicId } from "../ids";
import { songsOf } from "../mapping";
import type { Body } from "../response";
import { sharePagePath } from "../share-page";

const iso = (ms: number) => new Date(ms).toISOString();
const MAX_POSITION_MS = 24 * 3_600_000;

function stationOf(station: RadioStation): Body {
  return {
    id: subsonicId("station", station.id),
    name: station.name,
    streamUrl: station.streamUrl,
    homePageUrl: station.homepageUrl ?? undefined,
  };
}

/** The server's own origin as the client reached it (the proxy's, when it is trusted), for share links. */
function originOf(context: MethodContext): string {
  const { request } = context;
  return `${request.protocol}://${request.host}`;
}

async function shareBody(context: MethodContext, share: Share): Promise<Body> {
  return {
    id: subsonicId("share", share.id),
    url: `${originOf(context)}${sharePagePath(share.id)}`,
    description: share.description === "" ? undefined : share.description,
    username: context.identity.user.name,
    created: iso(share.createdAt),
    expires: share.expiresAt === null ? undefined : iso(share.expiresAt),
    lastVisited: share.lastVisitedAt === null ? undefined : iso(share.lastVisitedAt),
    visitCount: share.visitCount,
    entry: await songsOf(context, await tracksByIds(context, share.trackIds)),
  };
}

/** The tracks of the ids to share, in order: songs as they are, albums and playlists (the caller's to read) whole. */
async function tracksToShare(context: MethodContext, values: string[]): Promise<string[]> {
  if (values.length === 0) throw new SubsonicError(10, "Required parameter is missing: id");
  const trackIds: string[] = [];
  for (const value of values) {
    const { kind, id } = idOfKind(value, "track", "album", "playlist");
    if (kind === "track") {
      if ((await tracksByIds(context, [id])).length === 0) throw new SubsonicError(70, "Song not found");
      trackIds.push(id);
    } else if (kind === "album") {
      const { tracks } = await context.call(catalogContract, "album", { albumId: id });
      trackIds.push(...tracks.map((track) => track.id));
    } else {
      const { items } = await context.call(playlistContract, "get", { playlistId: id });
      trackIds.push(...items.map((item) => item.trackId));
    }
  }
  const unique = [...new Set(trackIds)];
  if (unique.length === 0) throw new SubsonicError(0, "Nothing to share: no songs");
  if (unique.length > MAX_SHARE_TRACKS)
    throw new SubsonicError(0, `At most ${MAX_SHARE_TRACKS} songs in one share`);
  return unique;
}

/** Our id of a Subsonic share id; anything that cannot be one is "not found". */
function shareIdOf(value: string): string {
  const { id } = idOfKind(value, "share");
  if (!/^[A-Za-z0-9_-]{22}$/.test(id)) throw new SubsonicError(70, "No such share");
  return id;
}

/** `expires` in epoch ms; 0 or absent: never (createShare), absent: unchanged (updateShare). */
function expiresOf(context: MethodContext): number | null | undefined {
  const expires = context.params.optionalInt("expires", 0, 8_640_000_000_000_000);
  if (expires === undefined) return undefined;
  if (expires === 0) return null;
  if (expires <= Date.now()) throw new SubsonicError(0, "expires is in the past");
  return expires;
}

export const keepsakeMethods: MethodTable = {
  async getBookmarks(context) {
    const bookmarks = await context.call(eventsContract, "bookmarks", {});
    const songs = new Map(
      (
        await songsOf(
          context,
          await tracksByIds(
            context,
            bookmarks.map((bookmark) => bookmark.trackId),
          ),
        )
      ).map((song) => [song.id, song]),
    );
    // A bookmark in a track the catalog no longer has is left out, as other servers do.
    const bookmark = bookmarks.flatMap((entry) => {
      const song = songs.get(subsonicId("track", entry.trackId));
      if (!song) return [];
      return [
        {
          position: entry.positionMs,
          username: context.identity.user.name,
          comment: entry.comment,
          created: iso(entry.createdAt),
          changed: iso(entry.changedAt),
          entry: { ...song, bookmarkPosition: entry.positionMs },
        },
      ];
    });
    return { bookmarks: { bookmark } };
  },

  async createBookmark(context) {
    const { params } = context;
    const { id } = idOfKind(params.string("id", 100), "track");
    const positionMs = params.int("position", 0, MAX_POSITION_MS);
    const comment = params.optionalString("comment", 1_000) ?? "";
    if ((await tracksByIds(context, [id])).length === 0) throw new SubsonicError(70, "Song not found");
    await context.call(eventsContract, "saveBookmark", { trackId: id, positionMs, comment });
    return {};
  },

  async deleteBookmark(context) {
    const { id } = idOfKind(context.params.string("id", 100), "track");
    const { deleted } = await context.call(eventsContract, "deleteBookmark", { trackId: id });
    if (!deleted) throw new SubsonicError(70, "No bookmark in this song");
    return {};
  },

  async getInternetRadioStations(context) {
    const stations = await context.call(eventsContract, "radioStations", {});
    return { internetRadioStations: { internetRadioStation: stations.map(stationOf) } };
  },

  async createInternetRadioStation(context) {
    const { params } = context;
    const streamUrl = params.string("streamUrl", 2_000);
    const name = params.string("name", 200);
    const homepageUrl = params.optionalString("homepageUrl", 2_000) || null;
    await context.call(eventsContract, "createRadioStation", { name, streamUrl, homepageUrl });
    return {};
  },

  async updateInternetRadioStation(context) {
    const { params } = context;
    const { id } = idOfKind(params.string("id", 100), "station");
    const streamUrl = params.string("streamUrl", 2_000);
    const name = params.string("name", 200);
    const homepageUrl = params.optionalString("homepageUrl", 2_000) || null;
    await context.call(eventsContract, "updateRadioStation", { stationId: id, name, streamUrl, homepageUrl });
    return {};
  },

  async deleteInternetRadioStation(context) {
    const { id } = idOfKind(context.params.string("id", 100), "station");
    const { deleted } = await context.call(eventsContract, "deleteRadioStation", { stationId: id });
    if (!deleted) throw new SubsonicError(70, "No such radio station");
    return {};
  },

  async createShare(context) {
    const { params } = context;
    const trackIds = await tracksToShare(context, params.list("id"));
    const description = params.optionalString("description", 500) ?? "";
    const share = await context.call(eventsContract, "createShare", {
      trackIds,
      description,
      expiresAt: expiresOf(context) ?? null,
    });
    return { shares: { share: [await shareBody(context, share)] } };
  },

  async getShares(context) {
    const shares = await context.call(eventsContract, "shares", {});
    const share = [];
    for (const entry of shares) share.push(await shareBody(context, entry));
    return { shares: { share } };
  },

  async updateShare(context) {
    const { params } = context;
    const id = shareIdOf(params.string("id", 100));
    const description = params.optionalString("description", 500);
    const expiresAt = expiresOf(context);
    await context.call(eventsContract, "updateShare", {
      shareId: id,
      ...(description === undefined ? {} : { description }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    return {};
  },

  async deleteShare(context) {
    const id = shareIdOf(context.params.string("id", 100));
    await context.call(eventsContract, "deleteShare", { shareId: id });
    return {};
  },
};
