// What a Subsonic method gets: its parameters, the caller, and the bus as the caller (user id and role attached).
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import type { ParamsOf, ResultOf, ServiceContract } from "@soundmesh/protocol";
import type { CoverSource, RenditionReader } from "@soundmesh/service-access-point";
import type { SubsonicIdentity } from "./auth";
import type { Params } from "./params";
import type { Body } from "./response";
import type { SharedState } from "./shared-state";
import type { Transcoder } from "./transcoder";

export interface SubsonicDeps {
  bus: ServiceBus;
  logger: Logger;
  /** The storage service's renditions (the web player's cache): the original file and the Opus/WebM profiles. */
  reader: RenditionReader;
  /** Album covers as the access point gets them (the storage ring in a cluster); by default the catalog's. */
  covers?: CoverSource;
  /** Where finished MP3 and Ogg/Opus transcodes are kept for Range requests and replays. */
  cacheDir: string;
  /** Cap of that cache (oldest dropped first). */
  cacheMaxBytes: number;
  /** ffmpeg transcodes for Subsonic streams running at once (server-wide) and per user. */
  maxTranscodes: number;
  maxTranscodesPerUser: number;
  requestTimeoutMs: number;
}

/** A method that wrote its own reply (audio, images) answers this instead of a body. */
export const SENT = Symbol("sent");

export interface MethodContext {
  params: Params;
  identity: SubsonicIdentity;
  request: FastifyRequest;
  reply: FastifyReply;
  deps: SubsonicDeps;
  state: SharedState;
  transcoder: Transcoder;
  call<C extends ServiceContract, K extends keyof C["methods"] & string>(
    contract: C,
    method: K,
    params: ParamsOf<C, K>,
  ): Promise<ResultOf<C, K>>;
}

export type Method = (context: MethodContext) => Promise<Body | typeof SENT>;
export type MethodTable = Record<string, Method>;
