// A request's parameters (query string and form body, repeated names kept), read through zod: a missing required
// parameter is Subsonic error 10, a malformed one error 0, never an exception that becomes a 500.
import { z } from "zod";
import { SubsonicError } from "./errors";

const MAX_VALUE_CHARS = 10_000;
const MAX_VALUES_PER_NAME = 1_000;

const integer = z
  .string()
  .trim()
  .regex(/^-?\d{1,16}$/, "an integer")
  .transform(Number)
  .pipe(z.number().int().safe());
const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false", "1", "0"]))
  .transform((value) => value === "true" || value === "1");

export class Params {
  constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  static from(sources: Iterable<[string, string]>): Params {
    const values = new Map<string, string[]>();
    for (const [name, value] of sources) {
      const list = values.get(name) ?? [];
      if (list.length >= MAX_VALUES_PER_NAME)
        throw new SubsonicError(0, `Too many values for parameter ${name}`);
      list.push(value);
      values.set(name, list);
    }
    return new Params(values);
  }

  has(name: string): boolean {
    return (this.values.get(name)?.length ?? 0) > 0;
  }

  /** Every value given for a repeatable parameter (e.g. `id`), in order. */
  list(name: string, maxChars = 200): string[] {
    const list = this.values.get(name) ?? [];
    for (const value of list) this.checkLength(name, value, maxChars);
    return [...list];
  }

  private checkLength(name: string, value: string, maxChars: number): void {
    if (value.length > Math.min(maxChars, MAX_VALUE_CHARS))
      throw new SubsonicError(0, `Parameter ${name} is too long (at most ${maxChars} characters)`);
  }

  /** The first value (a repeated single-valued parameter counts once, as other servers read it). */
  optionalString(name: string, maxChars = 1_000): string | undefined {
    const value = this.values.get(name)?.[0];
    if (value === undefined) return undefined;
    this.checkLength(name, value, maxChars);
    return value;
  }

  string(name: string, maxChars = 1_000): string {
    const value = this.optionalString(name, maxChars);
    if (value === undefined) throw new SubsonicError(10, `Required parameter is missing: ${name}`);
    return value;
  }

  private parsed<T>(name: string, schema: z.ZodType<T>, value: string): T {
    const result = schema.safeParse(value);
    if (!result.success)
      throw new SubsonicError(
        0,
        `Invalid parameter ${name}: ${result.error.issues[0]?.message ?? "malformed"}`,
      );
    return result.data;
  }

  optionalInt(name: string, min: number, max: number): number | undefined {
    const value = this.optionalString(name, 40);
    if (value === undefined) return undefined;
    return this.parsed(name, integer.pipe(z.number().min(min).max(max)), value);
  }

  int(name: string, min: number, max: number): number {
    const value = this.optionalInt(name, min, max);
    if (value === undefined) throw new SubsonicError(10, `Required parameter is missing: ${name}`);
    return value;
  }

  intOr(name: string, fallback: number, min: number, max: number): number {
    return this.optionalInt(name, min, max) ?? fallback;
  }

  intList(name: string, min: number, max: number): number[] {
    return this.list(name, 40).map((value) =>
      this.parsed(name, integer.pipe(z.number().min(min).max(max)), value),
    );
  }

  optionalBool(name: string): boolean | undefined {
    const value = this.optionalString(name, 10);
    return value === undefined ? undefined : this.parsed(name, boolean, value);
  }

  /** One of the allowed words (e.g. getAlbumList's `type`). */
  oneOf<const T extends readonly [string, ...string[]]>(name: string, allowed: T): T[number] {
    return this.parsed(name, z.enum(allowed), this.string(name, 100));
  }
}
