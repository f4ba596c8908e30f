/** How many suggestions an "unknown name" message offers by default. */
export const DEFAULT_SUGGESTIONS = 3;

/** How `closestNames` picks its suggestions. */
export interface ClosestNamesOptions {
  /** At most this many names (default {@link DEFAULT_SUGGESTIONS}). */
  readonly limit?: number;
  /** Only names at most this many edits away (default: no bound). */
  readonly maxDistance?: number;
}

/** Lower case with punctuation and spaces dropped, so `rtx-4090` and `RTX4090` compare equal. */
const normalise = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, "");

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
};

/**
 * The candidates nearest to `input` by edit distance, ignoring case and punctuation; among
 * equally near ones, those that extend what was typed come first, then alphabetical order. Used to suggest fixes for a mistyped GPU type or cloud.
 *
 * @example
 * ```ts
 * closestNames("h10", ["A10", "H100", "H200", "L4"], { limit: 2 }); // ["H100", "A10"]
 * closestNames("aws", ["lambda", "runpod"], { maxDistance: 2 });  // []
 * ```
 */
export const closestNames = (input: string, candidates: ReadonlyArray<string>, options: ClosestNamesOptions = {}): ReadonlyArray<string> => {
  const { limit = DEFAULT_SUGGESTIONS, maxDistance = Infinity } = options;
  const wanted = normalise(input);
  return candidates
    .map((name) => ({ name, distance: editDistance(wanted, normalise(name)), extends: normalise(name).startsWith(wanted) ? 0 : 1 }))
    .filter((c) => c.distance <= maxDistance)
    .sort((a, b) => a.distance - b.distance || a.extends - b.extends || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, limit)
    .map((c) => c.name);
};
