// Smart playlist rules: the form that makes or changes them (genres, artists, a year range, recently added, order,
// limit) and the one-line summary shown on a smart playlist's page.
import type { SmartRules } from "@soundmesh/protocol";

const ORDERS: Array<[SmartRules["order"], string]> = [
  ["artist", "artist"],
  ["recentlyAdded", "recently added"],
  ["year", "year"],
  ["title", "title"],
];

export const defaultSmartRules: SmartRules = {
  genres: [],
  artists: [],
  yearFrom: null,
  yearTo: null,
  addedWithinDays: null,
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
    order: (form.get("order") as SmartRules["order"] | null) ?? "artist",
    limit: numberOrNull(form, "limit") ?? defaultSmartRules.limit,
  };
}

/** With `withName` it also asks for the playlist's name (making one); without, it changes an existing one's rules. */
export function SmartRulesForm({
  initial = defaultSmartRules,
  withName = false,
  submitLabel,
  onSubmit,
  onCancel,
}: {
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
      <label>
        Genres
        <input name="genres" defaultValue={initial.genres.join(", ")} placeholder="any (comma-separated)" />
      </label>
      <label>
        Artists
        <input name="artists" defaultValue={initial.artists.join(", ")} placeholder="any (comma-separated)" />
      </label>
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
