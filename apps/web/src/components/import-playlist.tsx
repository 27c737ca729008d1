// "Import": reads an M3U/M3U8 or XSPF file in the browser and sends its TEXT to the server, which matches the
// entries to library tracks (by path, then by artist and title); the report lists what did not match.
import { useState } from "react";
import type { ImportReport, PlaylistSnapshot } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import { hrefOf } from "../route";
import { FileButton } from "./file-button";
import { playlistContract } from "@soundmesh/protocol";

type Imported = { snapshot: PlaylistSnapshot; report: ImportReport };

/** The playlist's name is the file's, without its extension; XSPF by extension, anything else as M3U. */
function importParamsOf(fileName: string, text: string) {
  const dot = fileName.lastIndexOf(".");
  const extension = dot > 0 ? fileName.slice(dot + 1).toLowerCase() : "";
  const name = (dot > 0 ? fileName.slice(0, dot) : fileName).trim().slice(0, 200) || "Imported playlist";
  return { name, format: extension === "xspf" ? ("xspf" as const) : ("m3u" as const), text };
}

const reasons = {
  "not-found": "not in the library",
  "too-long": "too long to be a path or tag, skipped",
  unreadable: "unreadable, skipped",
} as const;

function describeEntry(entry: ImportReport["unmatched"][number]): string {
  const tags = [entry.artist, entry.title].filter(Boolean).join(" – ");
  const text = [tags, entry.path].filter(Boolean).join(" · ") || "(empty entry)";
  return `${text} (${reasons[entry.reason]})`;
}

export function ImportPlaylist({ connection }: { connection: Connection }) {
  const [busy, setBusy] = useState(false);
  const [imported, setImported] = useState<Imported>();
  const [error, setError] = useState("");
  const importFile = async (file: File) => {
    setBusy(true);
    setError("");
    setImported(undefined);
    try {
      const params = importParamsOf(file.name, await file.text());
      setImported(await connection.call(playlistContract, "import", params));
    } catch (e) {
      setError(`Could not import ${file.name}: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const report = imported?.report;
  return (
    <>
      <FileButton
        label="Import"
        busyLabel="Importing…"
        isBusy={busy}
        accept=".m3u,.m3u8,.xspf,audio/x-mpegurl,application/xspf+xml"
        ariaLabel="Import a playlist file (M3U, M3U8 or XSPF)"
        onFile={(file) => void importFile(file)}
      />
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {imported && report && (
        <div className="import-report" role="status">
          <p>
            Made{" "}
            <a className="link accent" href={hrefOf({ name: "playlist", id: imported.snapshot.playlist.id })}>
              {imported.snapshot.playlist.name}
            </a>{" "}
            from the file: {report.matched} of {report.entries} entries matched ({report.byPath} by path,{" "}
            {report.byTags} by artist and title).
          </p>
          {report.unmatched.length > 0 && (
            <>
              <p className="muted">Not imported:</p>
              <ul>
                {report.unmatched.map((entry) => (
                  <li key={entry.entry}>
                    #{entry.entry}: {describeEntry(entry)}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </>
  );
}
