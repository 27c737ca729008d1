// The public page of a share: /share/<id> lists the shared songs with a player each, and /share/<id>/<n> streams
// the n-th of them as Ogg/Opus (Range from the cache once transcoded), without signing in. Only the shared tracks
// are reachable, by their place in the share (no catalog id is shown or accepted); an unknown id is 404, an
// expired share 410; requests are rate limited per address.
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { RateLimitRule, ServiceBus } from "@soundmesh/bus";
import {
  catalogContract,
  eventsContract,
  toAppError,
  type Share,
  type TrackRecord,
} from "@soundmesh/protocol";
import { KeyedBuckets, throttleAddressOf, type RenditionReader } from "@soundmesh/service-access-point";
import { deliverTrack } from "./methods/media";
import type { Transcoder } from "./transcoder";

export const sharePagePath = (shareId: string): string => `/share/${shareId}`;

const shareIdPattern = /^[A-Za-z0-9_-]{22}$/;
/** What the page's players get: Ogg/Opus, which every current browser plays. */
const SHARE_STREAM = { kind: "transcode", format: "opus", bitrateKbps: 128 } as const;

const STYLE = [
  "body{font-family:system-ui,sans-serif;margin:0;background:#111;color:#eee}",
  "main{max-width:40rem;margin:0 auto;padding:1.5rem}",
  "h1{font-size:1.4rem;margin:0 0 .25rem}",
  "p{color:#aaa;margin:.25rem 0 1rem}",
  "ol{padding-left:1.5rem}",
  "li{margin:0 0 1rem}",
  ".artist{color:#aaa}",
  "audio{display:block;width:100%;margin-top:.35rem}",
].join("");
const STYLE_HASH = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;
/** Nothing but the page's own style and its own audio: no script at all. */
const PAGE_POLICY = [
  "default-src 'none'",
  `style-src ${STYLE_HASH}`,
  "media-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );
}

function page(title: string, body: string): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${escapeHtml(title)} · soundmesh</title><style>${STYLE}</style></head>`,
    `<body><main>${body}</main></body></html>`,
  ].join("");
}

function sharePage(share: Share, tracks: Array<TrackRecord | undefined>): string {
  const title = share.description === "" ? "Shared music" : share.description;
  const items = tracks
    .map((track, index) =>
      track === undefined
        ? ""
        : `<li><span class="title">${escapeHtml(track.title)}</span> <span class="artist">${escapeHtml(
            track.artist,
          )}</span><audio controls preload="none" src="${sharePagePath(share.id)}/${index}"></audio></li>`,
    )
    .join("");
  const expires =
    share.expiresAt === null ? "" : ` · until ${escapeHtml(new Date(share.expiresAt).toUTCString())}`;
  const count = tracks.filter((track) => track !== undefined).length;
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1><p>${count} song${count === 1 ? "" : "s"} shared with you${expires}</p><ol>${items}</ol>`,
  );
}

export interface SharePageOptions {
  bus: ServiceBus;
  logger: Logger;
  transcoder: Transcoder;
  reader: RenditionReader;
  rateLimit: RateLimitRule;
  nowMs: () => number;
}

export function registerSharePage(app: FastifyInstance, options: SharePageOptions): void {
  const { bus, logger } = options;
  const buckets = new KeyedBuckets(options.rateLimit, options.nowMs, 50_000);

  function refuse(reply: FastifyReply, status: number, text: string) {
    return reply
      .code(status)
      .header("content-security-policy", PAGE_POLICY)
      .header("cache-control", "no-store")
      .type("text/html; charset=utf-8")
      .send(page(text, `<h1>${escapeHtml(text)}</h1>`));
  }

  /** The share, or the refusal already sent (unknown 404, expired 410, too many requests 429). */
  async function openShare(
    request: FastifyRequest<{ Params: { shareId: string } }>,
    reply: FastifyReply,
    visit: boolean,
  ): Promise<Share | undefined> {
    if (!buckets.tryTake(`share:${throttleAddressOf(request.ip)}`)) {
      void refuse(reply.header("retry-after", "1"), 429, "Too many requests; slow down");
      return undefined;
    }
    const { shareId } = request.params;
    if (!shareIdPattern.test(shareId)) {
      void refuse(reply, 404, "No such share");
      return undefined;
    }
    try {
      return await bus.request(eventsContract, "openShare", { shareId, visit }, { traceId: request.id });
    } catch (error) {
      const code = toAppError(error).code;
      if (code === "NOT_FOUND") void refuse(reply, 404, "No such share");
      else if (code === "GONE") void refuse(reply, 410, "This share has expired");
      else {
        logger.error({ err: error, traceId: request.id }, "opening a share failed");
        void refuse(reply, 503, "The share cannot be opened right now");
      }
      return undefined;
    }
  }

  async function tracksOf(share: Share, traceId: string): Promise<Array<TrackRecord | undefined>> {
    const found = await bus.request(catalogContract, "tracks", { trackIds: share.trackIds }, { traceId });
    const byId = new Map(found.map((track) => [track.id, track]));
    return share.trackIds.map((id) => byId.get(id));
  }

  app.get<{ Params: { shareId: string } }>("/share/:shareId", async (request, reply) => {
    const share = await openShare(request, reply, true);
    if (!share) return reply;
    const tracks = await tracksOf(share, request.id);
    return reply
      .header("content-security-policy", PAGE_POLICY)
      .header("cache-control", "no-store")
      .type("text/html; charset=utf-8")
      .send(sharePage(share, tracks));
  });

  app.get<{ Params: { shareId: string; index: string } }>(
    "/share/:shareId/:index",
    async (request, reply) => {
      const share = await openShare(request, reply, false);
      if (!share) return reply;
      const index = /^\d{1,4}$/.test(request.params.index) ? Number(request.params.index) : -1;
      const trackId = share.trackIds[index];
      if (trackId === undefined) return refuse(reply, 404, "No such song in this share");
      try {
        const [track] = await bus.request(
          catalogContract,
          "tracks",
          { trackIds: [trackId] },
          { traceId: request.id },
        );
        if (!track) return await refuse(reply, 404, "This song is no longer in the library");
        const source = await bus.request(
          catalogContract,
          "trackSource",
          { trackId },
          { traceId: request.id },
        );
        await deliverTrack(
          {
            request,
            reply,
            transcoder: options.transcoder,
            reader: options.reader,
            // The share counts as one user against the transcode limits.
            userId: `share:${share.id}`,
          },
          track,
          source.path,
          SHARE_STREAM,
          0,
        );
        return reply;
      } catch (error) {
        if (reply.sent) return reply;
        logger.warn({ err: error, traceId: request.id }, "a shared song could not be streamed");
        return refuse(reply, 503, "The song cannot be played right now; try again shortly");
      }
    },
  );
}
