import type { RegionRow } from "@ferry/core";

/** A region whose record is older than this is taken as gone (regions refresh it every 2 s). */
export const REGION_STALE_MS = 10_000;

/**
 * The region a call goes to: the first live region (refreshed within `REGION_STALE_MS`) the function allows (all when it names
 * none). `undefined` when none is left.
 *
 * @example
 * ```ts
 * chooseRegion([{ name: "us-east", url, updatedAt }], ["us-east"])?.name; // "us-east"
 * ```
 */
export const chooseRegion = (regions: ReadonlyArray<RegionRow>, allowed: ReadonlyArray<string>, now = Date.now()): RegionRow | undefined =>
  regions.find((r) => (allowed.length === 0 || allowed.includes(r.name)) && now - r.updatedAt < REGION_STALE_MS);
