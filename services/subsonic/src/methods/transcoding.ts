// OpenSubsonic's `transcoding` extension on top of our renditions: getTranscodeDecision reads the client's
// capabilities (a JSON ClientInfo in the POST body) and answers whether it can play the original, or else which of
// the streams we make it should get (MP3 or Ogg/Opus from ffmpeg, or our own WebM/Opus renditions, the web
// player's cache); getTranscodeStream then serves that decision's `transcodeParams`.
import { z } from "zod";
import { catalogContract, type TrackRecord } from "@soundmesh/protocol";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { idOfKind } from "../ids";
import { fileTypeOf } from "../mapping";
import type { Body } from "../response";
import { deliverTrack, deliveryOf, trackAndPath, type Target } from "./media";

/** A list the spec gives either as an array or as a comma-separated string (its two published versions). */
const words = z
  .union([z.string().max(500), z.array(z.string().max(100)).max(50)])
  .transform((value) =>
    (Array.isArray(value) ? value : value.split(","))
      .map((word) => word.trim().toLowerCase())
      .filter((word) => word !== ""),
  );
const bitrate = z.number().int().min(0).max(100_000_000);
const profile = z.object({
  container: words.optional(),
  containers: words.optional(),
  audioCodec: words.optional(),
  audioCodecs: words.optional(),
  protocol: words.optional(),
  protocols: words.optional(),
  maxAudioChannels: z.number().int().min(0).max(64).optional(),
});
const limitation = z.object({
  name: z.string().max(50),
  comparison: z.string().max(50),
  value: z.union([z.string().max(50), z.number()]).optional(),
  values: z
    .array(z.union([z.string().max(50), z.number()]))
    .max(20)
    .optional(),
  required: z.boolean().optional(),
});
const clientInfo = z.object({
  name: z.string().max(200).optional(),
  platform: z.string().max(200).optional(),
  maxAudioBitrate: bitrate.optional(),
  maxTranscodingAudioBitrate: bitrate.optional(),
  directPlayProfiles: z.array(profile).max(50).default([]),
  transcodingProfiles: z.array(profile).max(50).default([]),
  codecProfiles: z
    .array(
      z.object({
        type: z.string().max(50),
        name: z.string().max(50),
        limitations: z.array(limitation).max(20).default([]),
      }),
    )
    .max(50)
    .default([]),
});
type ClientInfo = z.infer<typeof clientInfo>;
type Profile = z.infer<typeof profile>;

const listOf = (one: string[] | undefined, many: string[] | undefined) => [...(one ?? []), ...(many ?? [])];
/** An empty list or "*" allows anything. */
const allows = (list: string[], value: string) =>
  list.length === 0 || list.includes("*") || list.includes(value);

/** The codec name the spec's profiles use for a track's codec. */
function codecOf(track: TrackRecord): string {
  const name = (track.codec ?? "").toLowerCase();
  for (const codec of ["flac", "opus", "vorbis", "alac", "aac", "wma"])
    if (name.includes(codec)) return codec;
  if (name.includes("layer 3") || name === "mp3") return "mp3";
  if (name.includes("pcm")) return "pcm";
  return name || "unknown";
}

/** The client's highest allowed audio bitrate (bps) for a codec: its limitations of `audioBitrate`. */
function codecBitrateCap(info: ClientInfo, codec: string): number | undefined {
  let cap: number | undefined;
  for (const codecProfile of info.codecProfiles) {
    if (codecProfile.name.toLowerCase() !== codec) continue;
    for (const limit of codecProfile.limitations) {
      if (limit.name !== "audioBitrate" || !/^LessThan/i.test(limit.comparison)) continue;
      for (const value of [limit.value, ...(limit.values ?? [])]) {
        const number = Number(value);
        if (value !== undefined && Number.isFinite(number)) cap = Math.min(cap ?? Infinity, number);
      }
    }
  }
  return cap;
}

/** Why a direct play profile does not fit the source, or undefined when it does. */
function misfit(
  info: ClientInfo,
  entry: Profile,
  container: string,
  codec: string,
  bps: number,
): string | undefined {
  if (!allows(listOf(entry.container, entry.containers), container)) return "ContainerNotSupported";
  if (!allows(listOf(entry.audioCodec, entry.audioCodecs), codec)) return "AudioCodecNotSupported";
  if (!allows(listOf(entry.protocol, entry.protocols), "http")) return "ProtocolNotSupported";
  const cap = Math.min(info.maxAudioBitrate ?? Infinity, codecBitrateCap(info, codec) ?? Infinity);
  if (bps > cap) return "AudioBitrateNotSupported";
  return undefined;
}

interface Made {
  target: Target;
  params: string;
  container: string;
  codec: string;
  bitrateKbps: number;
}

const MP3_RATES = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/** The first transcoding profile (the client's order) we can make over http, at the bitrate its caps allow. */
function transcodeFor(info: ClientInfo): Made | undefined {
  for (const entry of info.transcodingProfiles) {
    if (!allows(listOf(entry.protocol, entry.protocols), "http")) continue;
    const containers = listOf(entry.container, entry.containers);
    const codecs = listOf(entry.audioCodec, entry.audioCodecs);
    const capOf = (codec: string, fallbackKbps: number) =>
      Math.floor(
        Math.min(
          info.maxTranscodingAudioBitrate ?? Infinity,
          info.maxAudioBitrate ?? Infinity,
          codecBitrateCap(info, codec) ?? Infinity,
          fallbackKbps * 1000,
        ) / 1000,
      );
    if (allows(codecs, "mp3") && containers.includes("mp3")) {
      const kbps = MP3_RATES.filter((rate) => rate <= capOf("mp3", 192)).pop() ?? 32;
      return {
        target: { kind: "transcode", format: "mp3", bitrateKbps: kbps },
        params: `mp3.${kbps}`,
        container: "mp3",
        codec: "mp3",
        bitrateKbps: kbps,
      };
    }
    if (allows(codecs, "opus") && containers.includes("webm")) {
      const kbps = capOf("opus", 160) >= 160 ? 160 : 96;
      return {
        target: { kind: "webm", profile: kbps === 160 ? "opus160" : "opus96" },
        params: `webm.${kbps}`,
        container: "webm",
        codec: "opus",
        bitrateKbps: kbps,
      };
    }
    if (allows(codecs, "opus") && (containers.includes("ogg") || containers.includes("opus"))) {
      const kbps = Math.max(32, Math.min(256, capOf("opus", 128)));
      return {
        target: { kind: "transcode", format: "opus", bitrateKbps: kbps },
        params: `opus.${kbps}`,
        container: "ogg",
        codec: "opus",
        bitrateKbps: kbps,
      };
    }
  }
  return undefined;
}

/** The target of a decision's transcodeParams; anything we did not make is refused. */
function targetOfParams(params: string): Target {
  if (params === "raw") return { kind: "original" };
  const match = /^(mp3|opus|webm)\.(\d{2,3})$/.exec(params);
  const kbps = Number(match?.[2]);
  if (match?.[1] === "mp3" && MP3_RATES.includes(kbps))
    return { kind: "transcode", format: "mp3", bitrateKbps: kbps };
  if (match?.[1] === "opus" && kbps >= 32 && kbps <= 256)
    return { kind: "transcode", format: "opus", bitrateKbps: kbps };
  if (match?.[1] === "webm" && (kbps === 96 || kbps === 160))
    return { kind: "webm", profile: kbps === 160 ? "opus160" : "opus96" };
  throw new SubsonicError(0, "transcodeParams is not one this server made; ask getTranscodeDecision");
}

/** A song's id from mediaId (with mediaType song) or the earlier draft's songId. */
function songIdOf(context: MethodContext): string {
  const { params } = context;
  const value = params.optionalString("mediaId", 100) ?? params.optionalString("songId", 100);
  if (value === undefined) throw new SubsonicError(10, "Required parameter is missing: mediaId");
  const mediaType = params.optionalString("mediaType", 20) ?? "song";
  if (mediaType !== "song") throw new SubsonicError(70, "Only songs are served here (no podcasts)");
  return idOfKind(value, "track").id;
}

function clientInfoOf(context: MethodContext): ClientInfo {
  const { body } = context.request;
  if (context.request.method !== "POST" || body === null || typeof body !== "object")
    throw new SubsonicError(10, "Required parameter is missing: the ClientInfo JSON body (POST)");
  const parsed = clientInfo.safeParse(body);
  if (!parsed.success)
    throw new SubsonicError(
      0,
      `Invalid ClientInfo: ${parsed.error.issues[0]?.path.join(".") ?? ""} ${parsed.error.issues[0]?.message ?? ""}`.trim(),
    );
  return parsed.data;
}

export const transcodingMethods: MethodTable = {
  async getTranscodeDecision(context) {
    const trackId = songIdOf(context);
    const info = clientInfoOf(context);
    const track = await context.call(catalogContract, "track", { trackId });
    const container = fileTypeOf(track.codec).suffix;
    const codec = codecOf(track);
    const sourceBps = (track.bitrateKbps ?? 0) * 1000;
    const reasons = info.directPlayProfiles.map((entry) => misfit(info, entry, container, codec, sourceBps));
    const canDirectPlay = reasons.some((reason) => reason === undefined);
    const made = canDirectPlay ? undefined : transcodeFor(info);
    const sourceStream: Body = {
      protocol: "http",
      container,
      codec,
      audioBitrate: track.bitrateKbps === null ? undefined : sourceBps,
    };
    return {
      transcodeDecision: {
        canDirectPlay,
        canTranscode: made !== undefined,
        transcodeReason: canDirectPlay
          ? []
          : info.directPlayProfiles.length === 0
            ? ["NoDirectPlayProfile"]
            : reasons.map((reason) => reason ?? ""),
        errorReason:
          canDirectPlay || made
            ? undefined
            : "No transcoding profile asks for mp3, ogg/opus or webm/opus over http",
        transcodeParams: canDirectPlay ? "raw" : made?.params,
        sourceStream,
        transcodeStream: made && {
          protocol: "http",
          container: made.container,
          codec: made.codec,
          audioChannels: 2,
          audioBitrate: made.bitrateKbps * 1000,
          audioSamplerate: 48_000,
        },
      },
    };
  },

  async getTranscodeStream(context) {
    const { params } = context;
    const trackId = songIdOf(context);
    const target = targetOfParams(params.string("transcodeParams", 40));
    const offsetSeconds = params.intOr("offset", 0, 0, 86_400);
    const { track, path } = await trackAndPath(context, `tr-${trackId}`);
    if (offsetSeconds > 0 && offsetSeconds * 1000 >= track.durationMs)
      throw new SubsonicError(0, "offset is past the end of the track");
    return deliverTrack(deliveryOf(context), track, path, target, offsetSeconds);
  },
};
