// Contract of the playlist service: playlists as revisioned item lists edited by operations against a base
// revision (rebased by the service when behind), their members, import/export, smart rules and live pushes.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";
import { binary } from "./storage";
import { trackId } from "./stream";

/** The largest cover image a client may upload (the size a 900,000-character base64 text once allowed). */
export const MAX_COVER_UPLOAD_BYTES = 675_000;

/** Ids made by clients (items, operations) or the service (playlists): random, URL-safe, at least 8 characters. */
const randomId = (what: string) => z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, what);
export const playlistId = randomId("a playlist id");
export const itemId = randomId("an item id");
export const operationId = randomId("an operation id");
const userId = z.string().min(1).max(64);
const memberRef = z.object({ id: z.string(), name: z.string() });

export const MAX_PLAYLIST_ITEMS = 20_000;
export const MAX_ITEMS_PER_OPERATION = 5_000;
export const MAX_OPERATIONS_PER_EDIT = 500;
/** A client further behind than this gets a snapshot instead of the operations it missed. */
export const MAX_CATCH_UP_REVISIONS = 500;

/** Invitations to collaborate: how many one user may send, have waiting, and receive (see README, Playlists). */
export const INVITATIONS_PER_HOUR = 20;
export const MAX_PENDING_SENT_INVITATIONS = 50;
/** From one inviter to one invitee, over all their playlists. */
export const MAX_PENDING_INVITATIONS_BETWEEN = 5;
export const MAX_PENDING_RECEIVED_INVITATIONS = 100;
export const MAX_BLOCKED_USERS = 1_000;

export const playlistName = z.string().trim().min(1).max(200);
export const playlistDescription = z.string().max(2_000);

export const newPlaylistItem = z.object({ itemId, trackId });
export type NewPlaylistItem = z.infer<typeof newPlaylistItem>;

export const playlistItem = z.object({
  itemId,
  trackId,
  addedBy: z.string(),
  addedAt: z.number().int(),
});
export type PlaylistItem = z.infer<typeof playlistItem>;

/** A playlist item's track as it was when the item was added. */
export const itemSnapshot = z.object({
  trackId: z.string(),
  title: z.string(),
  artist: z.string(),
  album: z.string(),
  durationMs: z.number().int(),
});
export type ItemSnapshot = z.infer<typeof itemSnapshot>;

/**
 * One edit. Items are addressed by their item id, never by index, so an operation keeps its meaning when others
 * edited the list meanwhile. `afterItemId: null` is the start of the list, `"end"` the end at the time it applies.
 * Operations the service answers with (and pushes) are already rebased: their anchors name live items or null.
 */
export const playlistOperation = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("insert"),
    afterItemId: z.union([itemId, z.null(), z.literal("end")]),
    items: z.array(newPlaylistItem).min(1).max(MAX_ITEMS_PER_OPERATION),
  }),
  z.object({ type: z.literal("remove"), itemIds: z.array(itemId).max(MAX_ITEMS_PER_OPERATION) }),
  /** Moves the items (in the order given) to sit together right after the anchor. */
  z.object({
    type: z.literal("move"),
    itemIds: z.array(itemId).max(MAX_ITEMS_PER_OPERATION),
    afterItemId: z.union([itemId, z.null(), z.literal("end")]),
  }),
  z.object({ type: z.literal("rename"), name: playlistName }),
  z.object({ type: z.literal("setDescription"), description: playlistDescription }),
  z.object({ type: z.literal("setPublic"), isPublic: z.boolean() }),
  z.object({ type: z.literal("setCollaborative"), isCollaborative: z.boolean() }),
]);
export type PlaylistOperation = z.infer<typeof playlistOperation>;

/** An operation as a client submits it: the id makes a resubmission (lost acknowledgement) apply only once. */
export const submittedOperation = z.object({ opId: operationId, operation: playlistOperation });
export type SubmittedOperation = z.infer<typeof submittedOperation>;

/** One step of a playlist's history: the operation as it was applied (rebased), by whom and when. */
export const playlistRevision = z.object({
  revision: z.number().int().positive(),
  opId: operationId,
  author: z.string(),
  at: z.number().int(),
  operation: playlistOperation,
});
export type PlaylistRevision = z.infer<typeof playlistRevision>;

const days = z.number().int().min(1).max(36_500).nullable().default(null);
const playCount = z.number().int().min(0).max(1_000_000).nullable().default(null);

export const smartRules = z
  .object({
    genres: z.array(z.string().min(1).max(200)).max(50).default([]),
    artists: z.array(z.string().min(1).max(200)).max(50).default([]),
    yearFrom: z.number().int().min(0).max(3000).nullable().default(null),
    yearTo: z.number().int().min(0).max(3000).nullable().default(null),
    /** Only tracks added to the library within this many days. */
    addedWithinDays: days,
    /** The owner's listening (the events service): plays counted by the play-count rule, at least / at most. */
    minPlays: playCount,
    maxPlays: playCount,
    /** The owner's rating of the track, at least this many stars (unrated tracks are left out). */
    minRating: z.number().int().min(1).max(5).nullable().default(null),
    /** Only tracks the owner starred. */
    starredOnly: z.boolean().default(false),
    /** Last played by the owner within this many days; or not within them (never played counts as not). */
    playedWithinDays: days,
    notPlayedWithinDays: days,
    order: z
      .enum(["recentlyAdded", "artist", "year", "title", "mostPlayed", "recentlyPlayed", "rating"])
      .default("artist"),
    limit: z.number().int().min(1).max(5_000).default(500),
  })
  .superRefine((rules, ctx) => {
    const contradiction = (path: string, message: string) =>
      ctx.addIssue({ code: "custom", path: [path], message });
    if (rules.yearFrom !== null && rules.yearTo !== null && rules.yearFrom > rules.yearTo)
      contradiction("yearTo", "yearTo is before yearFrom: no track can match");
    if (rules.minPlays !== null && rules.maxPlays !== null && rules.minPlays > rules.maxPlays)
      contradiction("maxPlays", "maxPlays is below minPlays: no track can match");
    if (
      rules.playedWithinDays !== null &&
      rules.notPlayedWithinDays !== null &&
      rules.playedWithinDays <= rules.notPlayedWithinDays
    )
      contradiction(
        "notPlayedWithinDays",
        "played within the last days and not played within more days: no track can match",
      );
    if (rules.maxPlays === 0 && (rules.playedWithinDays !== null || rules.order === "recentlyPlayed"))
      contradiction("maxPlays", "never played tracks have no last play");
  });

/** Whether the rules need the owner's listening (plays, ratings, stars), which the events service keeps. */
export function rulesUseListening(rules: SmartRules): boolean {
  return (
    rules.minPlays !== null ||
    rules.maxPlays !== null ||
    rules.minRating !== null ||
    rules.starredOnly ||
    rules.playedWithinDays !== null ||
    rules.notPlayedWithinDays !== null ||
    ["mostPlayed", "recentlyPlayed", "rating"].includes(rules.order)
  );
}
export type SmartRules = z.infer<typeof smartRules>;

export const playlistRole = z.enum(["owner", "collaborator", "follower", "viewer"]);
export type PlaylistRole = z.infer<typeof playlistRole>;

export const playlistInfo = z.object({
  id: playlistId,
  ownerId: z.string(),
  ownerName: z.string(),
  name: z.string(),
  description: z.string(),
  isPublic: z.boolean(),
  isCollaborative: z.boolean(),
  collaborators: z.array(memberRef),
  followerCount: z.number().int(),
  revision: z.number().int().nonnegative(),
  itemCount: z.number().int().nonnegative(),
  /** An uploaded cover; without one the cover is a mosaic of the playlist's first albums. */
  hasUploadedCover: z.boolean(),
  /** Set for smart playlists: their items follow the rules and are refreshed when the catalog changes. */
  smartRules: smartRules.nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  /** What the caller may do. */
  access: z.object({ role: playlistRole, canEdit: z.boolean(), isFollowing: z.boolean() }),
});
export type PlaylistInfo = z.infer<typeof playlistInfo>;

export const playlistSnapshot = z.object({ playlist: playlistInfo, items: z.array(playlistItem) });
export type PlaylistSnapshot = z.infer<typeof playlistSnapshot>;

export const importReport = z.object({
  entries: z.number().int(),
  matched: z.number().int(),
  byPath: z.number().int(),
  byTags: z.number().int(),
  unmatched: z.array(
    z.object({
      /** 1-based position of the entry in the file. */
      entry: z.number().int(),
      /**
       * "not-found": no library track fits; "too-long": a path, artist or title longer than any can be;
       * "unreadable": text no file name or tag holds (control characters, broken UTF-16). Long texts are cut short.
       */
      reason: z.enum(["not-found", "too-long", "unreadable"]),
      path: z.string().nullable(),
      artist: z.string().nullable(),
      title: z.string().nullable(),
    }),
  ),
});
export type ImportReport = z.infer<typeof importReport>;

/**
 * A live playlist as the search service indexes it. `audience` is null for a public playlist, else the users who
 * may find it: the owner and the collaborators (followers of a private playlist no longer see it).
 */
export const playlistSearchDocument = z.object({
  id: playlistId,
  name: z.string(),
  description: z.string(),
  ownerName: z.string(),
  itemCount: z.number().int().nonnegative(),
  followers: z.number().int().nonnegative(),
  audience: z.array(z.string()).nullable(),
});
export type PlaylistSearchDocument = z.infer<typeof playlistSearchDocument>;

/** An invitation as its playlist's owner sees it: waiting for `user` to accept or decline. */
export const sentInvitation = z.object({ playlistId, user: memberRef, invitedAt: z.number().int() });
export type SentInvitation = z.infer<typeof sentInvitation>;

/** An invitation as the invitee sees it. */
export const receivedInvitation = z.object({
  playlistId,
  playlistName: z.string(),
  from: memberRef,
  invitedAt: z.number().int(),
});
export type ReceivedInvitation = z.infer<typeof receivedInvitation>;

export const blockedUser = z.object({ id: z.string(), name: z.string(), blockedAt: z.number().int() });
export type BlockedUser = z.infer<typeof blockedUser>;

const target = z.object({ playlistId });
const ok = z.object({ ok: z.literal(true) });
const userName = z.string().trim().min(1).max(64);

export const playlistContract = defineService("playlist", {
  create: {
    params: z.object({
      name: playlistName,
      description: playlistDescription.default(""),
      isPublic: z.boolean().default(false),
      isCollaborative: z.boolean().default(false),
      trackIds: z.array(trackId).max(MAX_ITEMS_PER_OPERATION).default([]),
    }),
    result: playlistSnapshot,
    exposed: true,
  },
  get: { params: target, result: playlistSnapshot, exposed: true },
  /**
   * What the playlist's items showed when they were added (title, artist, album, duration), for the tracks the
   * catalog no longer has: an unavailable item still says what it was.
   */
  trackSnapshots: {
    params: z.object({ playlistId, trackIds: z.array(trackId).max(500) }),
    result: z.array(itemSnapshot),
    exposed: true,
  },
  /** The caller's playlists: owned, collaborating and followed, most recently updated first. */
  list: { params: z.object({}), result: z.array(playlistInfo), exposed: true },
  /** Applies operations made against `baseRevision`, rebased over what happened since; all or nothing. */
  edit: {
    params: z.object({
      playlistId,
      baseRevision: z.number().int().nonnegative(),
      operations: z.array(submittedOperation).min(1).max(MAX_OPERATIONS_PER_EDIT),
    }),
    result: z.object({ revision: z.number().int(), applied: z.array(playlistRevision) }),
    exposed: true,
  },
  /** What a client that was away missed: the revisions after `revision`, or a snapshot when too far behind. */
  changesSince: {
    params: z.object({ playlistId, revision: z.number().int().nonnegative() }),
    result: z.discriminatedUnion("kind", [
      z.object({
        kind: z.literal("revisions"),
        revision: z.number().int(),
        revisions: z.array(playlistRevision),
      }),
      z.object({ kind: z.literal("snapshot"), snapshot: playlistSnapshot }),
    ]),
    exposed: true,
  },
  /**
   * Owner only: invites a user to collaborate; they become a collaborator only once they accept (collaborators edit
   * while the playlist is collaborative). Inviting someone already invited answers the waiting invitation. Limits per
   * inviter (INVITATIONS_PER_HOUR, MAX_PENDING_SENT_INVITATIONS, MAX_PENDING_INVITATIONS_BETWEEN) and per invitee
   * (MAX_PENDING_RECEIVED_INVITATIONS) answer RATE_LIMITED. An invitee who blocks the inviter never sees it: to the
   * inviter it stays waiting, as one the invitee ignores does.
   */
  invite: { params: target.extend({ userName }), result: sentInvitation, exposed: true },
  /** Owner only: the playlist's waiting invitations, oldest first. */
  sentInvitations: { params: target, result: z.array(sentInvitation), exposed: true },
  /** Owner only: withdraws a waiting invitation. */
  cancelInvitation: { params: target.extend({ userId }), result: ok, exposed: true },
  /** The caller's waiting invitations, newest first (at most MAX_PENDING_RECEIVED_INVITATIONS). */
  receivedInvitations: { params: z.object({}), result: z.array(receivedInvitation), exposed: true },
  /** The invitee joins as a collaborator; the playlist appears in their list. */
  acceptInvitation: { params: target, result: playlistInfo, exposed: true },
  declineInvitation: { params: target, result: ok, exposed: true },
  /**
   * The caller stops hearing from `userName`: their waiting invitations to the caller disappear for the caller, and
   * new ones never arrive. The blocked user is not told (see `invite`).
   */
  block: { params: z.object({ userName }), result: ok, exposed: true },
  /** Invitations sent while blocked are dropped (to the inviter as if declined); new ones arrive again. */
  unblock: { params: z.object({ userId }), result: ok, exposed: true },
  blockedUsers: { params: z.object({}), result: z.array(blockedUser), exposed: true },
  /** The owner removes anyone; a collaborator may remove themself (leave). */
  removeCollaborator: {
    params: target.extend({ userId }),
    result: playlistInfo,
    exposed: true,
  },
  /** Anyone who can see a playlist may follow it; a private playlist hides itself from followers too. */
  follow: { params: target, result: playlistInfo, exposed: true },
  unfollow: { params: target, result: ok, exposed: true },
  /** Owner only: the new owner must be a collaborator or a follower; the old owner becomes a collaborator. */
  transfer: { params: target.extend({ toUserId: userId }), result: playlistInfo, exposed: true },
  /** Leaves a tombstone: followers are told, and `get` answers GONE. */
  delete: { params: target, result: ok, exposed: true },
  /** Imports the TEXT of an M3U/M3U8 or XSPF file; entries match library tracks by path, then by tags. */
  import: {
    params: z.object({
      name: playlistName,
      format: z.enum(["m3u", "xspf"]),
      text: z.string().max(900_000),
      isPublic: z.boolean().default(false),
    }),
    result: z.object({ snapshot: playlistSnapshot, report: importReport }),
    exposed: true,
  },
  export: {
    params: target.extend({ format: z.enum(["m3u8", "xspf"]) }),
    result: z.object({ fileName: z.string(), mimeType: z.string(), text: z.string() }),
    exposed: true,
  },
  createSmart: {
    params: z.object({ name: playlistName, rules: smartRules, isPublic: z.boolean().default(false) }),
    result: playlistSnapshot,
    exposed: true,
  },
  setSmartRules: { params: target.extend({ rules: smartRules }), result: playlistSnapshot, exposed: true },
  /**
   * Internal (access point): editors only, a JPEG, PNG or WebP image as bytes (at most `MAX_COVER_UPLOAD_BYTES`),
   * stored as a 600 px square; null goes back to the mosaic. Clients upload with PUT (the image as the body) and
   * remove with DELETE at /api/playlists/:playlistId/cover, which also serves it (GET, ?size=64|300|600).
   */
  setCover: {
    params: target.extend({
      image: binary
        .refine((bytes) => bytes.byteLength <= MAX_COVER_UPLOAD_BYTES, "at most 675,000 bytes")
        .nullable(),
    }),
    result: playlistInfo,
  },
  /** Internal (access point): the uploaded cover, or a mosaic of the first albums; NOT_FOUND when there is none. */
  cover: {
    params: target.extend({ size: z.union([z.literal(64), z.literal(300), z.literal(600)]).default(300) }),
    result: z.object({ bytes: binary, mimeType: z.string() }),
  },
  /**
   * Internal (search): live playlists as search documents, in id order after `cursor` (null: from the start); or,
   * with `playlistIds`, just those of them that are live (deleted and unknown ones left out; no paging).
   */
  searchDocuments: {
    params: z.object({
      playlistIds: z.array(playlistId).min(1).max(500).optional(),
      cursor: playlistId.nullable().default(null),
      limit: z.number().int().min(1).max(1_000).default(500),
    }),
    result: z.object({ documents: z.array(playlistSearchDocument), nextCursor: playlistId.nullable() }),
  },
  /** Internal (access point): may the caller follow this playlist's pushes? */
  access: {
    params: target,
    result: z.object({ canView: z.boolean(), canEdit: z.boolean() }),
  },
});
export type PlaylistContract = typeof playlistContract;

/**
 * Published after every change. `audience` is null for a public playlist, else the users who may see it; the access
 * point pushes it on the client topic `playlist.<playlistId>` (see playlistTopic), and to the users in
 * `listsChanged` on `playlists.mine`.
 */
export const playlistChangedEvent = defineEvent(
  "playlist.changed",
  z.object({
    playlistId,
    revision: z.number().int().nonnegative(),
    /** The new revisions, in order; empty when only members, owner or visibility changed. */
    revisions: z.array(playlistRevision),
    /** Members (collaborators, followers, owner) or the cover changed: fetch the playlist again. */
    membersChanged: z.boolean(),
    deleted: z.boolean(),
    audience: z.array(z.string()).nullable(),
    /**
     * Users whose own list of playlists or of invitations changed (made, invited, joined, handed over, left, deleted,
     * followed): they refresh `list` and `receivedInvitations`.
     */
    listsChanged: z.array(z.string()).default([]),
  }),
);
export type PlaylistChange = z.infer<typeof playlistChangedEvent.payload>;

export const playlistTopicPattern = /^playlist\.([A-Za-z0-9_-]{8,64})$/;
/** Pushes a change to each signed-in user whose list of playlists it changed (refresh `playlist.list`). */
export const myPlaylistsTopic = "playlists.mine";
export const playlistTopic = (id: string): string => `playlist.${id}`;
