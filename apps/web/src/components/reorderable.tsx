// Drag-to-reorder rows (HTML5 drag and drop), with keyboard-reachable up/down buttons for the same moves.
import { useState } from "react";

export interface ReorderableProps<T> {
  items: readonly T[];
  keyOf: (item: T) => string | number;
  move: (from: number, to: number) => void;
  render: (item: T, index: number) => React.ReactNode;
  label: (item: T) => string;
  current?: number;
  /** False for a list the user may not edit: no dragging, no move buttons. */
  canMove?: boolean;
}

export function Reorderable<T>({
  items,
  keyOf,
  move,
  render,
  label,
  current,
  canMove = true,
}: ReorderableProps<T>) {
  const [dragged, setDragged] = useState<number>();
  const [over, setOver] = useState<number>();
  return (
    <ol className="tracks reorderable">
      {items.map((item, index) => (
        <li
          key={keyOf(item)}
          draggable={canMove}
          data-playing={index === current || undefined}
          data-drop-target={over === index || undefined}
          onDragStart={(e) => {
            setDragged(index);
            e.dataTransfer.effectAllowed = "move";
          }}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(index);
          }}
          onDragEnd={() => {
            setDragged(undefined);
            setOver(undefined);
          }}
          onDrop={(e) => {
            e.preventDefault();
            if (dragged !== undefined && dragged !== index) move(dragged, index);
            setDragged(undefined);
            setOver(undefined);
          }}
        >
          {canMove && (
            <span className="handle" aria-hidden>
              ⋮⋮
            </span>
          )}
          {render(item, index)}
          {canMove && (
            <span className="row-actions">
              <button
                aria-label={`Move ${label(item)} up`}
                disabled={index === 0}
                onClick={() => move(index, index - 1)}
              >
                ↑
              </button>
              <button
                aria-label={`Move ${label(item)} down`}
                disabled={index === items.length - 1}
                onClick={() => move(index, index + 1)}
              >
                ↓
              </button>
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}
