// The public streaming contract over HTTP: a rendition's manifest and its pieces, addressed by track id and profile.
import { z } from "zod";

export const trackId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a track id");
export const profileName = z.string().regex(/^[a-z0-9]{1,32}$/, "a profile name");

/** What the player needs to fetch, verify and append a rendition. */
export const streamManifest = z.object({
  trackId,
  profile: profileName,
  mimeType: z.string(),
  codec: z.string(),
  bitrateKbps: z.number().nonnegative(),
  durationMs: z.number().nonnegative(),
  sizeBytes: z.number().int().nonnegative(),
  pieceSizeBytes: z.number().int().positive(),
  pieceCount: z.number().int().nonnegative(),
  /** Hex SHA-256 of every piece, in order; every byte is checked against these before use. */
  pieceHashes: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
  /** WebM cluster start times and byte offsets, for seeking (Opus renditions). */
  seekIndex: z
    .array(z.object({ timeMs: z.number().nonnegative(), byteOffset: z.number().int().nonnegative() }))
    .optional(),
});
export type StreamManifest = z.infer<typeof streamManifest>;

/** The manifest route's entity tag, so a client holding a manifest can revalidate it (If-None-Match → 304). */
export const manifestEtag = (manifest: Pick<StreamManifest, "pieceHashes" | "sizeBytes">): string =>
  `"${manifest.pieceHashes.length}-${manifest.pieceHashes[0] ?? "empty"}-${manifest.sizeBytes}"`;

/** HTTP paths of the streaming endpoints (served by the access point, authorised by session). */
export const streamPaths = {
  manifest: (id: string, profile: string) => `/api/stream/${id}/${profile}/manifest`,
  piece: (id: string, profile: string, index: number) => `/api/stream/${id}/${profile}/pieces/${index}`,
  file: (id: string, profile: string) => `/api/stream/${id}/${profile}/file`,
} as const;
