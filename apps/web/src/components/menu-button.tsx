// A menu button (the WAI-ARIA menu button pattern) for the actions a page needs only now and then: the button says
// whether its menu is open; opening focuses the first item; ↑/↓, Home and End move among the items, Escape closes
// the menu and returns to the button, Tab closes it and moves on, a click elsewhere or on an item closes it.
import { useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import "./menu.css";

/** The items of an open menu, in order, skipping disabled ones. */
function itemsOf(menu: HTMLElement | null): HTMLElement[] {
  return Array.from(menu?.querySelectorAll<HTMLElement>('[role^="menuitem"]:not(:disabled)') ?? []);
}

export function MenuButton({
  label,
  ariaLabel,
  children,
}: {
  label: ReactNode;
  ariaLabel: string;
  children: ReactNode;
}) {
  const [isOpen, setOpen] = useState(false);
  /** Which item to focus once the menu shows: the first, or the last when opened with ↑. */
  const [focusOnOpen, setFocusOnOpen] = useState<"first" | "last">("first");
  const menuId = useId();
  const anchor = useRef<HTMLSpanElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!isOpen) return;
    // On a phone the page may need to scroll for the whole menu to clear the player bar.
    menu.current?.scrollIntoView({ block: "nearest" });
    const items = itemsOf(menu.current);
    (focusOnOpen === "first" ? items[0] : items.at(-1))?.focus({ preventScroll: true });
    const onPointerDown = (event: PointerEvent) => {
      if (!anchor.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", onPointerDown);
    return () => document.removeEventListener("pointerdown", onPointerDown);
  }, [isOpen, focusOnOpen]);

  const open = (at: "first" | "last") => {
    setFocusOnOpen(at);
    setOpen(true);
  };
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };

  const onButtonKeyDown = (event: KeyboardEvent) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    // The page's shortcuts take ↑/↓ for the volume; here they open the menu.
    event.preventDefault();
    event.stopPropagation();
    open(event.key === "ArrowDown" ? "first" : "last");
  };

  const onMenuKeyDown = (event: KeyboardEvent) => {
    const items = itemsOf(menu.current);
    const at = items.indexOf(document.activeElement as HTMLElement);
    const focus = (index: number) => items[(index + items.length) % items.length]?.focus();
    const moves: Record<string, () => void> = {
      ArrowDown: () => focus(at + 1),
      ArrowUp: () => focus(at < 0 ? -1 : at - 1),
      Home: () => focus(0),
      End: () => focus(-1),
      Escape: close,
    };
    if (event.key === "Tab") {
      // Focus goes back to the button first, so Tab's own move continues from there (after it, or before it).
      close();
      return;
    }
    // Space and Enter belong to the focused item (the page's shortcuts would take Space for play/pause).
    if (event.key === " " || event.key === "Enter") {
      event.stopPropagation();
      return;
    }
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    event.stopPropagation();
    move();
  };

  return (
    <span className="menu-anchor" ref={anchor}>
      <button
        ref={button}
        className="secondary"
        aria-label={ariaLabel}
        aria-haspopup="menu"
        aria-expanded={isOpen}
        aria-controls={menuId}
        onClick={() => (isOpen ? setOpen(false) : open("first"))}
        onKeyDown={onButtonKeyDown}
      >
        {label}
      </button>
      <div
        id={menuId}
        ref={menu}
        className="menu"
        role="menu"
        aria-label={ariaLabel}
        hidden={!isOpen}
        onKeyDown={onMenuKeyDown}
        // An item chosen with a click or a key closes the menu, back onto the button; the item's own handler ran first.
        onClick={(event) => {
          if ((event.target as HTMLElement).closest('[role^="menuitem"]')) close();
        }}
      >
        {children}
      </div>
    </span>
  );
}
