// Keeps a scan from reading a library that looks different as "every file deleted": a missing, unreadable or
// suddenly empty folder (an unmounted disk) stops the scan, and so does one that would remove more than a quarter of a
// folder's tracks, unless confirmed. Either way nothing is removed; the scan's status says why.
import { accessSync, constants, readdirSync, statSync, type Stats } from "node:fs";
import { sep } from "node:path";
import { AppError, type ScanProblem } from "@soundmesh/protocol";

/** A scan may remove at most this share of a folder's tracks without a confirmation… */
export const MASS_REMOVAL_SHARE = 0.25;
/** …unless it removes fewer than this many: a small folder may lose a few tracks freely. */
export const MASS_REMOVAL_MIN_TRACKS = 10;

const prefixOf = (folder: string) => (folder.endsWith(sep) ? folder : `${folder}${sep}`);

export const isUnder = (path: string, folder: string): boolean => path.startsWith(prefixOf(folder));

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? "unknown error";

/** Why a library folder cannot be scanned now, or undefined when it can. */
export function folderProblem(folder: string): string | undefined {
  let info: Stats;
  try {
    info = statSync(folder);
  } catch (error) {
    const code = codeOf(error);
    return code === "ENOENT" || code === "ENOTDIR"
      ? "does not exist (is its disk mounted?)"
      : `cannot be read (${code})`;
  }
  if (!info.isDirectory()) return "is not a folder (is its disk mounted?)";
  // Root may read a folder whatever its mode; a folder no one may read is unreadable for root too, as for anyone.
  if ((info.mode & 0o444) === 0) return "cannot be read (no one has read permission)";
  try {
    accessSync(folder, constants.R_OK | constants.X_OK);
    readdirSync(folder);
  } catch (error) {
    return `cannot be read (${codeOf(error)})`;
  }
  return undefined;
}

function refuse(problem: ScanProblem): never {
  throw new AppError(problem.code, problem.message, { details: problem });
}

/** Stops the scan (before it reads anything) when a library folder is missing or unreadable. */
export function checkFolders(roots: readonly string[]): void {
  for (const folder of roots) {
    const problem = folderProblem(folder);
    if (problem)
      refuse({
        code: "LIBRARY_UNAVAILABLE",
        message: `library folder ${folder} ${problem}; the scan stopped and removed nothing`,
        folder,
        wouldRemove: null,
        canConfirm: false,
      });
  }
}

/** The problem a scan stopped with, when it stopped for a reason an admin can act on. */
export function scanProblemOf(error: unknown): ScanProblem | undefined {
  if (!(error instanceof AppError)) return undefined;
  if (error.code !== "LIBRARY_UNAVAILABLE" && error.code !== "MASS_REMOVAL_REFUSED") return undefined;
  const details = error.details as Partial<ScanProblem> | undefined;
  return {
    code: error.code,
    message: error.message,
    folder: details?.folder ?? null,
    wouldRemove: details?.wouldRemove ?? null,
    canConfirm: details?.canConfirm ?? false,
  };
}

export interface RemovalCheck {
  roots: readonly string[];
  /** Paths of the tracks the catalog holds. */
  knownPaths: readonly string[];
  /** Paths of the audio files the walk found. */
  foundAudioPaths: readonly string[];
  /** Paths of the tracks the scan would remove. */
  removedPaths: readonly string[];
  allowMassRemoval: boolean;
}

/** How many of `paths` are under `folder` (the folder's prefix made once: this runs over every track of a library). */
function countUnder(paths: readonly string[], folder: string): number {
  const prefix = prefixOf(folder);
  let count = 0;
  for (const path of paths) if (path.startsWith(prefix)) count += 1;
  return count;
}

/**
 * Stops the scan when a folder that holds tracks now shows no audio file at all (an unmounted disk's empty mount
 * point), or when the scan would remove more than a quarter of a folder's tracks (and at least ten), unless allowed.
 */
export function checkRemovals(check: RemovalCheck): void {
  if (check.allowMassRemoval) return;
  const hint = "check the folder, then scan with --allow-mass-removal (or confirm in the admin page)";
  for (const folder of check.roots) {
    const known = countUnder(check.knownPaths, folder);
    if (known === 0) continue;
    const removing = countUnder(check.removedPaths, folder);
    const prefix = prefixOf(folder);
    if (!check.foundAudioPaths.some((path) => path.startsWith(prefix)))
      refuse({
        code: "LIBRARY_UNAVAILABLE",
        message:
          `library folder ${folder} is empty but the catalog has ${known} tracks from it (an unmounted disk?); ` +
          `the scan stopped and removed nothing. If they were deleted, ${hint}`,
        folder,
        wouldRemove: removing,
        canConfirm: true,
      });
    if (removing >= MASS_REMOVAL_MIN_TRACKS && removing > known * MASS_REMOVAL_SHARE)
      refuse({
        code: "MASS_REMOVAL_REFUSED",
        message:
          `the scan would remove ${removing} of the ${known} tracks in ${folder}; it stopped and removed ` +
          `nothing: ${hint}`,
        folder,
        wouldRemove: removing,
        canConfirm: true,
      });
  }
}
