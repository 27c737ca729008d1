// The smart playlist form's listening rules: the owner's play counts, rating, stars and last played (kept by the
// events service), and their part of a rules summary.
import type { SmartRules } from "@soundmesh/protocol";

type ListeningRules = Pick<
  SmartRules,
  "minPlays" | "maxPlays" | "minRating" | "starredOnly" | "playedWithinDays" | "notPlayedWithinDays"
>;

export const noListeningRules: ListeningRules = {
  minPlays: null,
  maxPlays: null,
  minRating: null,
  starredOnly: false,
  playedWithinDays: null,
  notPlayedWithinDays: null,
};

/** "played 3–10 times · rated ★★★★ or more · starred · played in the last 30 days". */
export function describeListening(rules: ListeningRules): string[] {
  const parts: string[] = [];
  const { minPlays, maxPlays } = rules;
  if (minPlays !== null && maxPlays !== null) parts.push(`played ${minPlays}–${maxPlays} times`);
  else if (minPlays !== null) parts.push(`played at least ${minPlays} times`);
  else if (maxPlays !== null)
    parts.push(maxPlays === 0 ? "never played" : `played at most ${maxPlays} times`);
  if (rules.minRating !== null) parts.push(`rated ${"★".repeat(rules.minRating)} or more`);
  if (rules.starredOnly) parts.push("starred");
  if (rules.playedWithinDays !== null) parts.push(`played in the last ${rules.playedWithinDays} days`);
  if (rules.notPlayedWithinDays !== null)
    parts.push(`not played in the last ${rules.notPlayedWithinDays} days`);
  return parts;
}

export function listeningRulesOf(
  form: FormData,
  numberOrNull: (form: FormData, name: string) => number | null,
): ListeningRules {
  return {
    minPlays: numberOrNull(form, "minPlays"),
    maxPlays: numberOrNull(form, "maxPlays"),
    minRating: numberOrNull(form, "minRating"),
    starredOnly: form.get("starredOnly") === "on",
    playedWithinDays: numberOrNull(form, "playedWithinDays"),
    notPlayedWithinDays: numberOrNull(form, "notPlayedWithinDays"),
  };
}

function NumberField({
  label,
  name,
  value,
  min,
  max,
  placeholder,
}: {
  label: string;
  name: keyof ListeningRules;
  value: number | null;
  min: number;
  max: number;
  placeholder: string;
}) {
  return (
    <label>
      {label}
      <input
        name={name}
        type="number"
        min={min}
        max={max}
        defaultValue={value ?? ""}
        placeholder={placeholder}
      />
    </label>
  );
}

export function ListeningFields({ initial }: { initial: ListeningRules }) {
  return (
    <fieldset className="listening-rules">
      <legend>Your listening</legend>
      <NumberField
        label="Played at least (times)"
        name="minPlays"
        value={initial.minPlays}
        min={0}
        max={1_000_000}
        placeholder="any"
      />
      <NumberField
        label="Played at most (times)"
        name="maxPlays"
        value={initial.maxPlays}
        min={0}
        max={1_000_000}
        placeholder="any"
      />
      <label>
        Rated at least
        <select name="minRating" defaultValue={initial.minRating ?? ""}>
          <option value="">any rating</option>
          {[1, 2, 3, 4, 5].map((stars) => (
            <option key={stars} value={stars}>
              {"★".repeat(stars)}
            </option>
          ))}
        </select>
      </label>
      <label className="checkbox">
        <input name="starredOnly" type="checkbox" defaultChecked={initial.starredOnly} /> Starred only
      </label>
      <NumberField
        label="Played in the last (days)"
        name="playedWithinDays"
        value={initial.playedWithinDays}
        min={1}
        max={36_500}
        placeholder="any time"
      />
      <NumberField
        label="Not played in the last (days)"
        name="notPlayedWithinDays"
        value={initial.notPlayedWithinDays}
        min={1}
        max={36_500}
        placeholder="any time"
      />
    </fieldset>
  );
}
