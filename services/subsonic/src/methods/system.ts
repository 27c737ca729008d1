// System: ping, getLicense, getOpenSubsonicExtensions.
import type { MethodTable } from "../context";

/** The OpenSubsonic extensions this server speaks, with the versions of each. */
export const extensions = [
  { name: "apiKeyAuthentication", versions: [1] },
  { name: "formPost", versions: [1] },
  { name: "transcodeOffset", versions: [1] },
  { name: "songLyrics", versions: [1] },
  { name: "indexBasedQueue", versions: [1] },
  // getTranscodeDecision and getTranscodeStream (methods/transcoding.ts).
  { name: "transcoding", versions: [1] },
];

export const systemMethods: MethodTable = {
  ping: () => Promise.resolve({}),
  getLicense: () => Promise.resolve({ license: { valid: true, email: "", licenseExpires: undefined } }),
  getOpenSubsonicExtensions: () => Promise.resolve({ openSubsonicExtensions: extensions }),
};
