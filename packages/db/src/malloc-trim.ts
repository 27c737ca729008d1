// Hands glibc's free heap pages back to the system: malloc_trim(3), reached through SQLite's extension loader, since
// node has no way to call a C function and a compiled addon of our own would need a toolchain at install.
import BetterSqlite3 from "better-sqlite3";

/**
 * What a scan or a search rebuild frees (SQLite's pages, buffers, V8's compiler zones) goes back to glibc's arenas,
 * which keep it: glibc returns only the top of its main heap on free(). malloc_trim(3) also gives back every whole free
 * page inside the arenas (madvise MADV_DONTNEED), 10–16 MiB of an idle server's RSS after a first scan of 5,000 tracks.
 *
 * SQLite's `loadExtension(file, entryPoint)` dlopens `file` (glibc's own libc.so.6 is already loaded: nothing new
 * comes in) and calls `entryPoint(db, errorOut, api)`. malloc_trim(size_t pad) takes the db pointer as `pad`: a
 * pad larger than any heap's top means the top itself is left alone (glibc trims it on free already), while the pages
 * inside the arenas are released whatever the pad. It answers 1 when it released something, which SQLite reports as a
 * failed initialisation ("error during initialization"), 0 when there was nothing to release.
 */
const INITIALISATION_ERROR = "error during initialization";

let unavailable: string | undefined = process.platform === "linux" ? undefined : process.platform;

/** Whether the last trim could run; the reason when it cannot here (not glibc, not Linux), then never tried again. */
export function mallocTrimUnavailable(): string | undefined {
  return unavailable;
}

/**
 * Runs glibc's malloc_trim on every arena: true when pages went back, false when there were none, undefined where it
 * is not available (another libc or system). It takes the arenas' locks, so it costs a few milliseconds of this thread.
 */
export function trimMallocArenas(): boolean | undefined {
  if (unavailable) return undefined;
  const connection = new BetterSqlite3(":memory:");
  // better-sqlite3 passes an entry point on to SQLite; its types name only the file.
  const loadExtension = connection.loadExtension.bind(connection) as (
    file: string,
    entryPoint: string,
  ) => void;
  try {
    loadExtension("libc.so.6", "malloc_trim");
    return false;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith(INITIALISATION_ERROR)) return true;
    unavailable = message;
    return undefined;
  } finally {
    connection.close();
  }
}
