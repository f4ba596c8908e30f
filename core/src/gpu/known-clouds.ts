import { closestNames } from "./closest-names.ts";
import { GPU_CATALOG_CLOUDS } from "./gpu-types.ts";
import type { OptionCheck } from "./option-check.ts";

/** Suggest a cloud for a mistyped one only when it is this close (edits, case ignored). */
const MAX_SUGGESTION_DISTANCE = 2;

/** The cloud of nodes started on the region's own machine. */
export const LOCAL_CLOUD = "local";

/**
 * Every cloud a function's `cloud` option may name: those with a GPU price catalog, and `local`.
 *
 * @example
 * ```ts
 * KNOWN_CLOUDS; // ["cudo", "hyperbolic", "lambda", "nebius", "runpod", "local"]
 * ```
 */
export const KNOWN_CLOUDS: ReadonlyArray<string> = [...GPU_CATALOG_CLOUDS, LOCAL_CLOUD];

/**
 * Check a function's `cloud` option: each name must be a known cloud (case ignored). On success,
 * the names in lower case with repeats dropped; otherwise a message naming each unknown cloud,
 * the nearest known one where one is close, and the full list.
 *
 * @example
 * ```ts
 * validateClouds(["Lambda", "local"]); // { ok: true, value: ["lambda", "local"] }
 * validateClouds(["lamda"]);           // { ok: false, message: 'unknown cloud "lamda" (did you mean lambda?); known clouds: ...' }
 * ```
 */
export const validateClouds = (clouds: ReadonlyArray<string>, known: ReadonlyArray<string> = KNOWN_CLOUDS): OptionCheck<ReadonlyArray<string>> => {
  const problems: Array<string> = [];
  const canonical: Array<string> = [];
  for (const cloud of clouds) {
    const name = cloud.trim().toLowerCase();
    if (!known.includes(name)) {
      const [nearest] = closestNames(cloud, known, { limit: 1, maxDistance: MAX_SUGGESTION_DISTANCE });
      problems.push(`unknown cloud "${cloud}"${nearest ? ` (did you mean ${nearest}?)` : ""}`);
    }
    else if (!canonical.includes(name)) canonical.push(name);
  }
  return problems.length > 0
    ? { ok: false, message: `${problems.join("; ")}; known clouds: ${known.join(", ")}` }
    : { ok: true, value: canonical };
};
