// Long lists in pages: the first page when the parameters change, more on "Show more", and a sort choice kept per list.
import { useCallback, useEffect, useState } from "react";
import { catalogContract } from "@soundmesh/protocol";
import type { Connection } from "../connection";

const PAGE_SIZE = 60;

export interface Paged<T> {
  items: T[] | undefined;
  total: number;
  error: string;
  loadMore: () => void;
}

/** The catalog's methods that answer a page of `{items, total}` for a `limit` and an `offset`. */
export type PagedMethod = "albums" | "artists" | "albumsOfArtist";

/** Pages of a catalog method; `params` must be stable between renders (useMemo) or plain values. */
export function usePaged<T>(
  connection: Connection,
  method: PagedMethod,
  params: Record<string, unknown>,
): Paged<T> {
  const [items, setItems] = useState<T[]>();
  const [total, setTotal] = useState(0);
  const [error, setError] = useState("");
  const key = JSON.stringify(params);
  const load = useCallback(
    (offset: number, stale: () => boolean) =>
      // One call for the three methods: their params differ only in what `params` holds.
      (
        connection.call as (
          contract: typeof catalogContract,
          method: PagedMethod,
          params: object,
        ) => Promise<{ items: T[]; total: number }>
      )(catalogContract, method, { ...(JSON.parse(key) as object), limit: PAGE_SIZE, offset }).then(
        (page) => {
          if (stale()) return;
          setItems((before) => (offset === 0 ? page.items : [...(before ?? []), ...page.items]));
          setTotal(page.total);
          setError("");
        },
        (e: Error) => !stale() && setError(e.message),
      ),
    [connection, method, key],
  );
  useEffect(() => {
    let stale = false;
    setItems(undefined);
    void load(0, () => stale);
    return () => {
      stale = true;
    };
  }, [load]);
  const loadMore = useCallback(() => void load(items?.length ?? 0, () => false), [load, items]);
  return { items, total, error, loadMore };
}

/** A sort choice remembered in this browser, per list. */
export function useSort<T extends string>(list: string, choices: readonly T[]): [T, (sort: T) => void] {
  const storageKey = `soundmesh.sort.${list}`;
  const [sort, setSort] = useState<T>(() => {
    const saved = localStorage.getItem(storageKey);
    return choices.find((choice) => choice === saved) ?? choices[0]!;
  });
  return [
    sort,
    (next) => {
      localStorage.setItem(storageKey, next);
      setSort(next);
    },
  ];
}

export function SortSelect<T extends string>({
  value,
  labels,
  onChange,
}: {
  value: T;
  labels: Record<T, string>;
  onChange: (value: T) => void;
}) {
  return (
    <label className="sort">
      <span className="muted">Sort by </span>
      <select aria-label="Sort by" value={value} onChange={(e) => onChange(e.target.value as T)}>
        {(Object.entries(labels) as Array<[T, string]>).map(([choice, label]) => (
          <option key={choice} value={choice}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

export function ShowMore({ shown, total, onClick }: { shown: number; total: number; onClick: () => void }) {
  if (shown >= total) return null;
  return (
    <p>
      <button className="secondary" onClick={onClick}>
        Show more ({total - shown} left)
      </button>
    </p>
  );
}
