// Bus messages as frames: a JSON envelope with each binary field (Uint8Array/Buffer) lifted out as an attachment,
// passed by reference in process and sent as raw bytes after the envelope on NATS (as nats.js `Msg.data` carries
// bytes). Errors travel in the envelope, never in the attachments.

/** A message on the bus: the JSON envelope and the bytes its `{"$bin": i}` placeholders stand for. */
export interface BusFrame {
  envelope: string;
  attachments: readonly Uint8Array[];
  /**
   * In one process only (a transport with `carriesCheckedValues`): the message itself, already checked against its
   * contract by the bus that sent it, handed over as it is (envelope empty, no attachments) instead of encoded,
   * decoded and checked again. Never set on a frame read from bytes (fromWireBytes), so every process boundary
   * still checks.
   */
  checked?: { readonly value: unknown };
}

/** A frame carrying a message its sender's bus checked against the contract, in process. */
export const checkedFrame = (value: unknown): BusFrame => ({
  envelope: "",
  attachments: [],
  checked: { value },
});

/** Thrown for bytes that are not a frame of this version; the receiver answers or drops, never crashes. */
export class BusFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BusFrameError";
  }
}

const BINARY_KEY = "$bin";
const WIRE_VERSION = 1;
const FIXED_HEADER_BYTES = 1 + 4 + 4;

/**
 * Replaces every Uint8Array in `value` by a placeholder, copying only the objects and arrays on the way to one
 * (the bytes themselves are never copied). Walking first also keeps JSON.stringify from calling Buffer#toJSON,
 * which builds an array of one number per byte.
 */
function liftBinary(value: unknown, attachments: Uint8Array[]): unknown {
  if (value instanceof Uint8Array) {
    attachments.push(value);
    return { [BINARY_KEY]: attachments.length - 1 };
  }
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    let copy: unknown[] | undefined;
    for (let i = 0; i < items.length; i++) {
      const lifted = liftBinary(items[i], attachments);
      if (lifted !== items[i]) (copy ??= [...items])[i] = lifted;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const lifted = liftBinary(record[key], attachments);
    if (lifted !== record[key]) (copy ??= { ...record })[key] = lifted;
  }
  return copy ?? value;
}

export function encode(value: unknown): BusFrame {
  const attachments: Uint8Array[] = [];
  const envelope = JSON.stringify(liftBinary(value, attachments)) ?? "null";
  return { envelope, attachments };
}

/** The message a frame carries; its attachments come back as they went (in process, the very same objects). */
export function decode(frame: BusFrame): unknown {
  const { attachments } = frame;
  try {
    // A reviver runs for every value and makes parsing several times slower: only frames with bytes need it.
    if (attachments.length === 0) return JSON.parse(frame.envelope);
    return JSON.parse(frame.envelope, (_key, value: unknown) => {
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const index = (value as Record<string, unknown>)[BINARY_KEY];
        if (typeof index === "number" && Object.keys(value).length === 1) {
          const attachment = Number.isInteger(index) ? attachments[index] : undefined;
          if (!attachment) throw new BusFrameError(`placeholder ${index} has no attachment`);
          return attachment;
        }
      }
      return value;
    });
  } catch (error) {
    if (error instanceof SyntaxError) throw new BusFrameError(`the envelope is not JSON: ${error.message}`);
    throw error;
  }
}

/**
 * One frame as bytes for a network transport: a version byte, the envelope's byte length and the attachment count
 * (u32 big-endian each), each attachment's length (u32), then the UTF-8 envelope and the attachments, raw.
 */
export function toWireBytes(frame: BusFrame): Uint8Array {
  const envelope = Buffer.from(frame.envelope, "utf8");
  const headerBytes = FIXED_HEADER_BYTES + 4 * frame.attachments.length;
  const total = frame.attachments.reduce(
    (sum, bytes) => sum + bytes.byteLength,
    headerBytes + envelope.length,
  );
  const wire = Buffer.allocUnsafe(total);
  wire.writeUInt8(WIRE_VERSION, 0);
  wire.writeUInt32BE(envelope.length, 1);
  wire.writeUInt32BE(frame.attachments.length, 5);
  let offset = FIXED_HEADER_BYTES;
  for (const bytes of frame.attachments) offset = wire.writeUInt32BE(bytes.byteLength, offset);
  offset += envelope.copy(wire, offset);
  for (const bytes of frame.attachments) {
    wire.set(bytes, offset);
    offset += bytes.byteLength;
  }
  return wire;
}

/** Reads what toWireBytes wrote; attachments are views into `wire`, not copies. Throws BusFrameError. */
export function fromWireBytes(wire: Uint8Array): BusFrame {
  const view = Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength);
  if (view.length < FIXED_HEADER_BYTES)
    throw new BusFrameError(`a frame of ${view.length} bytes is too short`);
  const version = view.readUInt8(0);
  if (version !== WIRE_VERSION) throw new BusFrameError(`frame version ${version} is not ${WIRE_VERSION}`);
  const envelopeBytes = view.readUInt32BE(1);
  const count = view.readUInt32BE(5);
  const headerBytes = FIXED_HEADER_BYTES + 4 * count;
  if (headerBytes > view.length) throw new BusFrameError(`${count} attachments do not fit in the frame`);
  const lengths: number[] = [];
  let expected = headerBytes + envelopeBytes;
  for (let i = 0; i < count; i++) {
    const length = view.readUInt32BE(FIXED_HEADER_BYTES + 4 * i);
    lengths.push(length);
    expected += length;
  }
  if (expected !== view.length) {
    throw new BusFrameError(`the frame announces ${expected} bytes but holds ${view.length}`);
  }
  const envelope = view.toString("utf8", headerBytes, headerBytes + envelopeBytes);
  const attachments: Uint8Array[] = [];
  let offset = headerBytes + envelopeBytes;
  for (const length of lengths) {
    attachments.push(view.subarray(offset, offset + length));
    offset += length;
  }
  return { envelope, attachments };
}
