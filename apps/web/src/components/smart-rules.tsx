// Smart playlist rules: the form that makes or changes them (genres, artists, a year range, recently added, the
// owner's listening, order, limit) and the one-line summary shown on a smart playlist's page. Genres and artists are typed or picked from the
// library's own (the library's genres as toggles, artists suggested as you type), so a rule names what exists.
import { useEffect, useState } from "react";
import type { SmartRules } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import "./smart-rules.css";
import {
  ListeningFields,
  describeListening,
  listeningRulesOf,
  noListeningRules,
} from "./smart-listening-rules";
import { catalogContract, searchContract } from "@soundmesh/protocol";

const ORDERS: Array<[SmartRules["order"], string]> = [
  ["artist", "artist"],
  ["recentlyAdded", "recently added"],
  ["year", "year"],
  ["title", "title"],
  ["mostPlayed", "most played by you"],
  ["recentlyPlayed", "last played by you"],
  ["rating", "your rating"],
];

export const defaultSmartRules: SmartRules = {
  genres: [],
  artists: [],
  yearFrom: null,
  yearTo: null,
  addedWithinDays: null,
  ...noListeningRules,
  order: "artist",
  limit: 500,
};

/** "Rock, Pop · by The Testers · 1990–2005 · added in the last 30 days · by artist, at most 500 songs". */
export function describeRules(rules: SmartRules): string {
  const parts: string[] = [];
  if (rules.genres.length > 0) parts.push(rules.genres.join(", "));
  if (rules.artists.length > 0) parts.push(`by ${rules.artists.join(", ")}`);
  if (rules.yearFrom !== null || rules.yearTo !== null)
    parts.push(
      rules.yearTo === null
        ? `from ${rules.yearFrom}`
        : rules.yearFrom === null
          ? `until ${rules.yearTo}`
          : `${rules.yearFrom}–${rules.yearTo}`,
    );
  if (rules.addedWithinDays !== null) parts.push(`added in the last ${rules.addedWithinDays} days`);
  parts.push(...describeListening(rules));
  const order = ORDERS.find(([value]) => value === rules.order)?.[1] ?? rules.order;
  parts.push(`ordered by ${order}, at most ${rules.limit} songs`);
  return parts.join(" · ");
}

const listOf = (text: string) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

function numberOrNull(form: FormData, name: string): number | null {
  const text = ((form.get(name) as string | null) ?? "").trim();
  return text === "" ? null : Number(text);
}

function rulesOf(form: FormData): SmartRules {
  return {
    genres: listOf((form.get("genres") as string | null) ?? ""),
    artists: listOf((form.get("artists") as string | null) ?? ""),
    yearFrom: numberOrNull(form, "yearFrom"),
    yearTo: numberOrNull(form, "yearTo"),
    addedWithinDays: numberOrNull(form, "addedWithinDays"),
    ...listeningRulesOf(form, numberOrNull),
    order: (form.get("order") as SmartRules["order"] | null) ?? "artist",
    limit: numberOrNull(form, "limit") ?? defaultSmartRules.limit,
  };
}

/** The comma-separated text with `value` added, or removed when it is there (compared without case). */
function toggled(text: string, value: string): string {
  const items = listOf(text);
  const has = items.some((item) => item.toLowerCase() === value.toLowerCase());
  return (has ? items.filter((item) => item.toLowerCase() !== value.toLowerCase()) : [...items, value]).join(
    ", ",
  );
}

/** The text with its last, half-typed entry replaced by `value`, ready for the next one. */
function completed(text: string, value: string): string {
  const items = text.split(",");
  items[items.length - 1] = value;
  return `${items
    .map((item) => item.trim())
    .filter(Boolean)
    .join(", ")}, `;
}

/** A comma-separated list field, named for the form's FormData. */
function ListInput({
  label,
  name,
  text,
  onChange,
}: {
  label: string;
  name: string;
  text: string;
  onChange: (text: string) => void;
}) {
  return (
    <label>
      {label}
      <input
        name={name}
        value={text}
        onChange={(e) => onChange(e.target.value)}
        placeholder="any (comma-separated)"
        autoComplete="off"
      />
    </label>
  );
}

/** The library's genres, most albums first, as toggles under the Genres field. */
function GenreField({ connection, initial }: { connection: Connection; initial: string[] }) {
  const [text, setText] = useState(initial.join(", "));
  const [genres, setGenres] = useState<string[]>([]);
  useEffect(() => {
    connection
      .call(catalogContract, "genres")
      .then((list) => setGenres([...list].sort((a, b) => b.albumCount - a.albumCount).map((g) => g.genre)))
      .catch(() => setGenres([]));
  }, [connection]);
  const chosen = new Set(listOf(text).map((genre) => genre.toLowerCase()));
  return (
    <div className="list-field">
      <ListInput label="Genres" name="genres" text={text} onChange={setText} />
      {genres.length > 0 && (
        <div className="suggestions" role="group" aria-label="Genres in the library">
          {genres.slice(0, 40).map((genre) => (
            <button
              key={genre}
              type="button"
              aria-pressed={chosen.has(genre.toLowerCase())}
              onClick={() => setText(toggled(text, genre))}
            >
              {genre}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** Artists of the library matching the name being typed, offered under the Artists field. */
function ArtistField({ connection, initial }: { connection: Connection; initial: string[] }) {
  const [text, setText] = useState(initial.join(", "));
  const [hits, setHits] = useState<string[]>([]);
  const typing = (text.split(",").at(-1) ?? "").trim();
  useEffect(() => {
    if (!typing) {
      setHits([]);
      return;
    }
    let isCurrent = true;
    const timer = setTimeout(() => {
      connection
        .call(searchContract, "query", { q: typing, kinds: ["artist"], limit: 8 })
        .then(({ hits: found }) => {
          if (isCurrent) setHits(found.map((hit) => hit.title));
        })
        .catch(() => isCurrent && setHits([]));
    }, 120);
    return () => {
      isCurrent = false;
      clearTimeout(timer);
    };
  }, [connection, typing]);
  const chosen = new Set(listOf(text).map((artist) => artist.toLowerCase()));
  const offered = hits.filter(
    (artist) => !chosen.has(artist.toLowerCase()) || artist.toLowerCase() === typing.toLowerCase(),
  );
  return (
    <div className="list-field">
      <ListInput label="Artists" name="artists" text={text} onChange={setText} />
      {offered.length > 0 && (
        <div className="suggestions" role="group" aria-label="Matching artists">
          {offered.map((artist) => (
            <button key={artist} type="button" onClick={() => setText(completed(text, artist))}>
              {artist}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** With `withName` it also asks for the playlist's name (making one); without, it changes an existing one's rules. */
export function SmartRulesForm({
  connection,
  initial = defaultSmartRules,
  withName = false,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  connection: Connection;
  initial?: SmartRules;
  withName?: boolean;
  submitLabel: string;
  onSubmit: (rules: SmartRules, name: string) => void;
  onCancel: () => void;
}) {
  return (
    <form
      className="smart-rules"
      aria-label="Smart playlist rules"
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        onSubmit(rulesOf(form), ((form.get("name") as string | null) ?? "").trim());
      }}
    >
      {withName && (
        <label>
          Name
          <input name="name" required maxLength={200} placeholder="e.g. Recent rock" />
        </label>
      )}
      <GenreField connection={connection} initial={initial.genres} />
      <ArtistField connection={connection} initial={initial.artists} />
      <label>
        Years from
        <input name="yearFrom" type="number" min={0} max={3000} defaultValue={initial.yearFrom ?? ""} />
      </label>
      <label>
        Years to
        <input name="yearTo" type="number" min={0} max={3000} defaultValue={initial.yearTo ?? ""} />
      </label>
      <label>
        Added in the last (days)
        <input
          name="addedWithinDays"
          type="number"
          min={1}
          max={36_500}
          defaultValue={initial.addedWithinDays ?? ""}
          placeholder="any time"
        />
      </label>
      <ListeningFields initial={initial} />
      <label>
        Order
        <select name="order" defaultValue={initial.order}>
          {ORDERS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        At most (songs)
        <input name="limit" type="number" min={1} max={5_000} defaultValue={initial.limit} required />
      </label>
      <div className="actions">
        <button className="primary" type="submit">
          {submitLabel}
        </button>
        <button className="secondary" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
