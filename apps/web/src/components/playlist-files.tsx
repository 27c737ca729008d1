// A playlist's files: export as M3U8 or XSPF (a download made in the browser from the server's text), and its
// cover (an uploaded image, or the mosaic of its first albums), which editors change or remove.
import { useState } from "react";
import type { PlaylistInfo } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import { FileButton } from "./file-button";

type ExportedFile = { fileName: string; mimeType: string; text: string };

/** Offers the text as a file download through a Blob URL. */
function saveAs(file: ExportedFile): void {
  const url = URL.createObjectURL(new Blob([file.text], { type: file.mimeType }));
  const link = document.createElement("a");
  link.href = url;
  link.download = file.fileName;
  link.click();
  // The download has taken the blob by then; revoking at once is refused by some browsers mid-download.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function ExportPlaylist({
  connection,
  playlistId,
  onError,
}: {
  connection: Connection;
  playlistId: string;
  onError: (message: string) => void;
}) {
  const download = (format: "m3u8" | "xspf") =>
    connection.request<ExportedFile>("playlist.export", { playlistId, format }).then(saveAs, (e: Error) => {
      onError(`Could not export the playlist: ${e.message}`);
    });
  return (
    <>
      <button className="secondary" onClick={() => void download("m3u8")}>
        Export M3U8
      </button>
      <button className="secondary" onClick={() => void download("xspf")}>
        Export XSPF
      </button>
    </>
  );
}

/** The image as base64 without its data: URL prefix, as `playlist.setCover` takes it. */
function base64Of(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve((reader.result as string).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error ?? new Error("The image could not be read"));
    reader.readAsDataURL(file);
  });
}

export function PlaylistCover({
  connection,
  info,
  onError,
}: {
  connection: Connection;
  info: PlaylistInfo;
  onError: (message: string) => void;
}) {
  const [isMissing, setMissing] = useState(false);
  const [isBusy, setBusy] = useState(false);
  const setCover = async (imageBase64: string | null) => {
    setBusy(true);
    try {
      await connection.request("playlist.setCover", { playlistId: info.id, imageBase64 });
      setMissing(false);
    } catch (e) {
      onError(`Could not change the cover: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  // updatedAt changes with the cover, so the browser fetches the new one.
  const src = `/api/playlists/${info.id}/cover?size=300&v=${info.updatedAt}`;
  return (
    <div className="playlist-cover">
      {isMissing ? (
        <div className="cover placeholder" aria-hidden />
      ) : (
        <img className="cover" src={src} alt="" key={src} onError={() => setMissing(true)} />
      )}
      {info.access.canEdit && (
        <div className="cover-actions">
          <FileButton
            label="Change cover"
            busyLabel="Uploading…"
            isBusy={isBusy}
            accept="image/jpeg,image/png,image/webp"
            ariaLabel="Upload a cover image (JPEG, PNG or WebP)"
            onFile={(file) => void base64Of(file).then(setCover, (error: Error) => onError(error.message))}
          />
          {info.hasUploadedCover && (
            <button className="secondary" disabled={isBusy} onClick={() => void setCover(null)}>
              Remove cover
            </button>
          )}
        </div>
      )}
    </div>
  );
}
