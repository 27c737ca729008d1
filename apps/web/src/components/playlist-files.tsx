// A playlist's files: export as M3U8 or XSPF (a download made in the browser from the server's text), and its
// cover (an uploaded image, or the mosaic of its first albums), which editors change or remove. The actions are
// items of the playlist page's "More" menu.
import { useRef, useState } from "react";
import type { PlaylistInfo } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import "./playlist-files.css";
import { playlistContract } from "@soundmesh/protocol";

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
    connection.call(playlistContract, "export", { playlistId, format }).then(saveAs, (e: Error) => {
      onError(`Could not export the playlist: ${e.message}`);
    });
  return (
    <>
      <button role="menuitem" onClick={() => void download("m3u8")}>
        Export M3U8
      </button>
      <button role="menuitem" onClick={() => void download("xspf")}>
        Export XSPF
      </button>
    </>
  );
}

/**
 * Uploads the image's bytes as the body of a PUT (or, with null, goes back to the mosaic with DELETE); the session
 * cookie signs the request. The answer is the playlist, whose change also arrives by push.
 */
async function sendCover(playlistId: string, file: File | null): Promise<void> {
  const url = `/api/playlists/${encodeURIComponent(playlistId)}/cover`;
  const response = await fetch(
    url,
    file === null
      ? { method: "DELETE" }
      : { method: "PUT", headers: { "content-type": file.type }, body: file },
  );
  if (response.ok) return;
  const problem = (await response.json().catch(() => ({}))) as { title?: string; code?: string };
  throw new Error(problem.title ?? problem.code ?? `HTTP ${response.status}`);
}

/** The cover as shown: the uploaded image, the mosaic, or a placeholder when there is neither. */
export function PlaylistCover({ info }: { info: PlaylistInfo }) {
  // updatedAt changes with the cover, so the browser fetches the new one (and tries again after a miss).
  const src = `/api/playlists/${info.id}/cover?size=300&v=${info.updatedAt}`;
  const [missing, setMissing] = useState<string>();
  const isMissing = missing === src;
  return (
    <div className="playlist-cover">
      {isMissing ? (
        <div className="cover placeholder" aria-hidden />
      ) : (
        <img className="cover" src={src} alt="" key={src} onError={() => setMissing(src)} />
      )}
    </div>
  );
}

/**
 * "Change cover…" and "Remove cover" as menu items, for editors. "Change cover…" opens the picker of a hidden file
 * input (which works while the menu closes behind it).
 */
export function CoverMenuItems({
  info,
  onError,
}: {
  info: PlaylistInfo;
  onError: (message: string) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [isBusy, setBusy] = useState(false);
  const setCover = async (file: File | null) => {
    setBusy(true);
    try {
      await sendCover(info.id, file);
    } catch (e) {
      onError(`Could not change the cover: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button role="menuitem" disabled={isBusy} onClick={() => input.current?.click()}>
        {isBusy ? "Uploading cover…" : "Change cover…"}
      </button>
      {info.hasUploadedCover && (
        <button role="menuitem" disabled={isBusy} onClick={() => void setCover(null)}>
          Remove cover
        </button>
      )}
      <input
        ref={input}
        type="file"
        hidden
        accept="image/jpeg,image/png,image/webp"
        aria-label="Upload a cover image (JPEG, PNG or WebP)"
        disabled={isBusy}
        onChange={(e) => {
          const file = e.currentTarget.files?.[0];
          // Cleared so that choosing the same file again fires another change.
          e.currentTarget.value = "";
          if (file) void setCover(file);
        }}
      />
    </>
  );
}
