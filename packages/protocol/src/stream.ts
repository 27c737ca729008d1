// The public streaming contract over HTTP: a rendition's manifest (which grows while the server is still making the
// rendition) and its pieces, addressed by track id and profile.
import { z } from "zod";

export const trackId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a track id");
export const profileName = z.string().regex(/^[a-z0-9]{1,32}$/, "a profile name");

/**
 * What the player needs to fetch, verify and append a rendition. While `complete` is false the server is still
 * making it: `pieceHashes` and `pieceCount` cover the pieces finished so far (a hash never changes once announced),
 * `sizeBytes` is the bytes those pieces hold, `durationMs` is the catalog's figure, and `seekIndex` holds the
 * clusters found in those bytes. Once complete, `sizeBytes` and `durationMs` (ffmpeg's own) are final.
 */
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
  /** WebM cluster start times (track time) and byte offsets, for seeking (Opus renditions). */
  seekIndex: z
    .array(z.object({ timeMs: z.number().nonnegative(), byteOffset: z.number().int().nonnegative() }))
    .optional(),
  /** False while the rendition is still being made; manifests written before this field existed were complete. */
  complete: z.boolean().default(true),
  /**
   * Set on an offset rendition: the track from this time on (ms), made for a seek past what the rendition has
   * reached. Its clusters carry track time, so its media lands where it belongs; it is a rendition of its own
   * (own pieces, hashes and addresses), never cached by clients nor shared with peers.
   */
  fromMs: z.number().int().nonnegative().optional(),
});
export type StreamManifest = z.infer<typeof streamManifest>;

/** Query of the manifest route: with `havePieces`, a growing manifest answers as soon as it has more. */
export const manifestQuery = z
  .object({
    /**
     * The caller knows this many pieces: the answer comes as soon as more are finished or the rendition is
     * complete (or after a bound, unchanged). Without it the answer is the complete manifest, as before growing
     * manifests existed (old clients wait for the whole transcode).
     */
    havePieces: z.coerce.number().int().min(0).max(1_000_000).optional(),
  })
  .strict();
export type ManifestQuery = z.infer<typeof manifestQuery>;

/** Where an offset rendition starts: whole seconds of track time, within a day. */
export const offsetMs = z.number().int().min(0).max(86_400_000).multipleOf(1_000);
/** The same, as the route's path segment (decimal digits only). */
export const offsetParam = z
  .string()
  .regex(/^\d{1,8}$/)
  .transform(Number)
  .pipe(offsetMs);

/**
 * The manifest route's entity tag, so a client holding a manifest can revalidate it (If-None-Match → 304). It
 * changes as a growing manifest gains pieces and again when it completes.
 */
export const manifestEtag = (
  manifest: Pick<StreamManifest, "pieceHashes" | "sizeBytes" | "complete">,
): string =>
  `"${manifest.pieceHashes.length}-${manifest.pieceHashes[0] ?? "empty"}-${manifest.sizeBytes}${manifest.complete ? "" : "-growing"}"`;

/** HTTP paths of the streaming endpoints (served by the access point, authorised by session). */
const renditionPath = (id: string, profile: string, fromMs: number | undefined) =>
  `/api/stream/${id}/${profile}${fromMs === undefined ? "" : `/from/${fromMs}`}`;

export const streamPaths = {
  /** With `fromMs`, the offset rendition that starts there (see `streamManifest.fromMs`). */
  manifest: (id: string, profile: string, options: ManifestQuery & { fromMs?: number | undefined } = {}) =>
    `${renditionPath(id, profile, options.fromMs)}/manifest${options.havePieces === undefined ? "" : `?havePieces=${options.havePieces}`}`,
  piece: (id: string, profile: string, index: number, fromMs?: number) =>
    `${renditionPath(id, profile, fromMs)}/pieces/${index}`,
  file: (id: string, profile: string) => `/api/stream/${id}/${profile}/file`,
} as const;
