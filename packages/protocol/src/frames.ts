// Access-point WebSocket frames (ARCHITECTURE §4): every frame in either direction is one of these.
import { z } from "zod";
import { errorCodes } from "./errors";

export const MAX_FRAME_BYTES = 1024 * 1024;

const requestId = z.union([z.string().min(1).max(64), z.number().int().nonnegative()]);
const topicName = z.string().min(1).max(200);

export const clientFrame = z.discriminatedUnion("t", [
  z.object({ t: z.literal("req"), id: requestId, method: z.string().min(1).max(100), params: z.unknown() }),
  z.object({ t: z.literal("sub"), topic: topicName }),
  z.object({ t: z.literal("unsub"), topic: topicName }),
  z.object({
    t: z.literal("signal"),
    to: z.string().min(1).max(100),
    data: z.unknown(),
    id: requestId.optional(),
  }),
  z.object({ t: z.literal("ping") }),
]);
export type ClientFrame = z.infer<typeof clientFrame>;

/** One STUN or TURN server as RTCPeerConnection takes it. */
export const iceServer = z.object({
  urls: z
    .array(z.string().regex(/^(stun|stuns|turn|turns):[^\s]{1,250}$/))
    .min(1)
    .max(8),
  username: z.string().max(256).optional(),
  credential: z.string().max(256).optional(),
});
export type IceServer = z.infer<typeof iceServer>;

/** A session socket's address: ws: or wss:, a host, the /ws path. */
const socketUrl = z
  .string()
  .regex(/^wss?:\/\/[^\s/?#]{1,250}\/ws$/, "a ws:// or wss:// session socket address");

export const serverFrame = z.discriminatedUnion("t", [
  z.object({ t: z.literal("res"), id: requestId, result: z.unknown() }),
  z.object({
    t: z.literal("err"),
    id: requestId.nullable(),
    code: z.enum(errorCodes),
    message: z.string(),
    details: z.unknown().optional(),
  }),
  z.object({ t: z.literal("push"), topic: topicName, data: z.unknown() }),
  z.object({ t: z.literal("signal"), from: z.string(), data: z.unknown() }),
  z.object({ t: z.literal("pong") }),
  z.object({
    t: z.literal("hello"),
    sessionId: z.string(),
    /** This connection's P2P pseudonym: the only name other peers ever see. */
    peerId: z.string(),
    user: z.object({ id: z.string(), name: z.string() }),
    /**
     * STUN and TURN servers for peers on other networks (RTCIceServer), TURN with credentials made for this
     * connection that expire (the TURN REST convention); absent when the server configures none.
     */
    iceServers: z.array(iceServer).max(8).optional(),
    /**
     * The session socket addresses of a cluster's live access points, this one first: where the client goes when this
     * one fails. Absent in all-in-one.
     */
    accessPoints: z.array(socketUrl).max(16).optional(),
  }),
  /** The access points' addresses again, after one joined or left. */
  z.object({ t: z.literal("accessPoints"), urls: z.array(socketUrl).max(16) }),
  /**
   * The connection's STUN and TURN servers again, with fresh TURN credentials, sent before the last ones expire: a
   * long-lived socket's next peer connections use these.
   */
  z.object({ t: z.literal("ice"), iceServers: z.array(iceServer).max(8) }),
]);
export type ServerFrame = z.infer<typeof serverFrame>;
