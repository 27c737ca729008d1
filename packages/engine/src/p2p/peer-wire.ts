// The peer data channel's framing: binary piece requests and answers with bounds checks, JSON control messages
// checked by the protocol's zod schema. A frame that does not parse is refused, never half-used.
import { peerControlMessage, type PeerControlMessage } from "@soundmesh/protocol";

export const MAX_PIECE_BYTES = 1024 * 1024;
const MAX_CONTROL_BYTES = 64 * 1024;
const MAX_KEY_BYTES = 100;
const KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}\.[a-z0-9]{1,32}$/;

export type PeerFrame =
  | { type: "request"; requestId: number; key: string; index: number; urgencyMs: number }
  | { type: "piece"; requestId: number; bytes: Uint8Array }
  /** The neighbour does not hold the piece. */
  | { type: "missing"; requestId: number }
  /** The neighbour holds it but will not upload now (uploads off, capped, or its own buffer is low). */
  | { type: "busy"; requestId: number }
  | { type: "cancel"; requestId: number }
  | { type: "control"; message: PeerControlMessage };

const codes = { request: 1, piece: 2, missing: 3, busy: 4, cancel: 5, control: 6 } as const;
const URGENCY_LIMIT_MS = 2 ** 31 - 1;

export class PeerWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PeerWireError";
  }
}

export function encodeFrame(frame: PeerFrame): Uint8Array {
  switch (frame.type) {
    case "request": {
      const key = new TextEncoder().encode(frame.key);
      const out = new Uint8Array(14 + key.byteLength);
      const view = new DataView(out.buffer);
      out[0] = codes.request;
      view.setUint32(1, frame.requestId);
      view.setUint32(5, frame.index);
      view.setInt32(9, Math.max(-URGENCY_LIMIT_MS, Math.min(URGENCY_LIMIT_MS, Math.round(frame.urgencyMs))));
      out[13] = key.byteLength;
      out.set(key, 14);
      return out;
    }
    case "piece": {
      const out = new Uint8Array(5 + frame.bytes.byteLength);
      out[0] = codes.piece;
      new DataView(out.buffer).setUint32(1, frame.requestId);
      out.set(frame.bytes, 5);
      return out;
    }
    case "missing":
    case "busy":
    case "cancel": {
      const out = new Uint8Array(5);
      out[0] = codes[frame.type];
      new DataView(out.buffer).setUint32(1, frame.requestId);
      return out;
    }
    case "control": {
      const json = new TextEncoder().encode(JSON.stringify(frame.message));
      const out = new Uint8Array(1 + json.byteLength);
      out[0] = codes.control;
      out.set(json, 1);
      return out;
    }
  }
}

/** Parses one frame; throws PeerWireError on anything malformed or out of bounds. */
export function decodeFrame(data: Uint8Array): PeerFrame {
  if (data.byteLength < 1) throw new PeerWireError("empty frame");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const code: number = data[0]!;
  if (code === codes.control) {
    if (data.byteLength > MAX_CONTROL_BYTES + 1) throw new PeerWireError("control frame too large");
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(1)));
    } catch {
      throw new PeerWireError("control frame is not JSON");
    }
    const parsed = peerControlMessage.safeParse(json);
    if (!parsed.success) throw new PeerWireError("control frame does not match the protocol");
    return { type: "control", message: parsed.data };
  }
  if (data.byteLength < 5) throw new PeerWireError("frame too short");
  const requestId = view.getUint32(1);
  switch (code) {
    case codes.request: {
      if (data.byteLength < 14) throw new PeerWireError("request too short");
      const keyLength = data[13]!;
      if (keyLength > MAX_KEY_BYTES || data.byteLength !== 14 + keyLength)
        throw new PeerWireError("request key length is wrong");
      const key = new TextDecoder().decode(data.subarray(14));
      if (!KEY_PATTERN.test(key)) throw new PeerWireError("request key is not a track key");
      return { type: "request", requestId, index: view.getUint32(5), urgencyMs: view.getInt32(9), key };
    }
    case codes.piece:
      if (data.byteLength - 5 > MAX_PIECE_BYTES) throw new PeerWireError("piece too large");
      return { type: "piece", requestId, bytes: data.slice(5) };
    case codes.missing:
      return { type: "missing", requestId };
    case codes.busy:
      return { type: "busy", requestId };
    case codes.cancel:
      return { type: "cancel", requestId };
    default:
      throw new PeerWireError(`unknown frame type ${String(code)}`);
  }
}
