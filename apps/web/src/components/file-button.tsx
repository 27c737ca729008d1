// A button that opens the file picker and hands over the one file chosen (import a playlist, upload a cover).
import "./file-button.css";
export function FileButton({
  label,
  busyLabel,
  isBusy,
  accept,
  ariaLabel,
  onFile,
}: {
  label: string;
  busyLabel: string;
  isBusy: boolean;
  accept: string;
  ariaLabel: string;
  onFile: (file: File) => void;
}) {
  return (
    <label className="secondary file-button" aria-disabled={isBusy}>
      {isBusy ? busyLabel : label}
      <input
        type="file"
        accept={accept}
        aria-label={ariaLabel}
        disabled={isBusy}
        onChange={(e) => {
          const file = e.currentTarget.files?.[0];
          // Cleared so that choosing the same file again fires another change.
          e.currentTarget.value = "";
          if (file) onFile(file);
        }}
      />
    </label>
  );
}
