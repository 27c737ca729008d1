// Inline icons: no icon font or emoji needed, so they render everywhere.

const paths = {
  prev: "M6 5h2v14H6zM20 5v14L9 12z",
  next: "M16 5h2v14h-2zM4 5l11 7-11 7z",
  play: "M7 4l13 8-13 8z",
  pause: "M6 4h4v16H6zM14 4h4v16h-4z",
  shuffle: "M4 7h3l8 10h3v-2l3 3-3 3v-2h-4L6 9H4zM15 7h3V5l3 3-3 3V9h-2l-2.5 3-1.3-1.6z",
  repeat: "M5 8h11V5l4 4-4 4v-3H7v3H5zM19 16H8v3l-4-4 4-4v3h9v-3h2z",
  queue: "M4 6h12v2H4zM4 11h12v2H4zM4 16h8v2H4zM17 14l5 3-5 3z",
} as const;

export type IconName = keyof typeof paths;

export function Icon({ name }: { name: IconName }) {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden fill="currentColor">
      <path d={paths[name]} />
    </svg>
  );
}
