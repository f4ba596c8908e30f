import type { RegionRow } from "@ferry/core";

/** A region whose record is older than this is taken as gone. */
export const REGION_STALE_MS = 365 * 24 * 3600 * 1000;

/**
 * The region a call goes to: the first registered region the function allows (all when it names
 * none). `undefined` when none is left.
 *
 * @example
 * ```ts
 * chooseRegion([{ name: "us-east", url, updatedAt }], ["us-east"])?.name; // "us-east"
 * ```
 */
export const chooseRegion = (regions: ReadonlyArray<RegionRow>, allowed: ReadonlyArray<string>): RegionRow | undefined =>
  regions.find((r) => allowed.length === 0 || allowed.includes(r.name));
