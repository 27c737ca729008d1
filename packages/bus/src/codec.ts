// Wire encoding of bus messages: JSON, with binary fields (Uint8Array/Buffer) carried as base64.
const BINARY_KEY = "$b64";

export function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, replaced: unknown) {
    // JSON.stringify applies Buffer#toJSON before the replacer sees it; look at the original instead.
    const original = this[key];
    if (original instanceof Uint8Array) {
      return {
        [BINARY_KEY]: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString(
          "base64",
        ),
      };
    }
    return replaced;
  });
}

export function decode(text: string): unknown {
  // A reviver runs for every value and makes parsing several times slower: only bytes need it.
  if (!text.includes(`"${BINARY_KEY}"`)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      const encoded = record[BINARY_KEY];
      if (typeof encoded === "string" && Object.keys(record).length === 1)
        return Buffer.from(encoded, "base64");
    }
    return value;
  });
}
