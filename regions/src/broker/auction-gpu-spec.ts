// A demand's GPU spec string ("H100:2", "any") as the auction reads it.

/** The spec type that matches every GPU type (N GPUs of one type, whatever it is). */
export const ANY_GPU = "any";

/** One acceptable GPU spec: `key` is the lower-cased type (or `ANY_GPU`), `label` the spec as written. */
export interface GpuSpec {
  readonly key: string;
  readonly count: number;
  readonly label: string;
}

/**
 * Parse `TYPE` or `TYPE:COUNT` (COUNT a positive integer, default 1); types compare
 * case-insensitively. `undefined` when the spec is malformed.
 *
 * @example
 * ```ts
 * parseGpuSpec("H100:2"); // { key: "h100", count: 2, label: "H100:2" }
 * parseGpuSpec("any");    // { key: "any", count: 1, label: "any" }
 * parseGpuSpec("H100:0"); // undefined
 * ```
 */
export const parseGpuSpec = (spec: string): GpuSpec | undefined => {
  const colon = spec.indexOf(":");
  const type = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const countText = colon < 0 ? "1" : spec.slice(colon + 1).trim();
  const count = /^[0-9]+$/.test(countText) ? Number(countText) : NaN;
  if (type === "" || !Number.isSafeInteger(count) || count < 1) return undefined;
  return { key: type.toLowerCase(), count, label: spec.trim() };
};
