import type { RegionRow } from "@ferry/core";

/** A region whose record is older than this is taken as gone (regions refresh it every 2 s). */
export const REGION_STALE_MS = 10_000;

/** What the edge knows of a region's health from its own requests and probes. */
export interface RegionHealthView {
  /** Smoothed round-trip time of quick requests, ms; undefined before the first. */
  readonly latencyMs?: number;
  /** Until when (epoch ms) the region counts as down after a failed request or probe. */
  readonly downUntil?: number;
  /** When (epoch ms) the region last answered a probe or request. */
  readonly lastOkAt?: number;
}

/**
 * The regions a request may go to, best first: live (its record refreshed within `REGION_STALE_MS`,
 * or — when the state cannot take its refreshes — answering this edge's probes), allowed
 * (all when `allowed` is empty), and not marked down — nearest (lowest measured latency) first,
 * unmeasured ones after the measured, by name. When every allowed live region is marked down,
 * they are all returned anyway, nearest first: a mark is a guess, and trying beats refusing.
 *
 * @example
 * ```ts
 * routeOrder(regions, ["us-east", "eu-west"], (name) => health.view(name)).map((r) => r.name); // ["eu-west", "us-east"]
 * ```
 */
export const routeOrder = (
  regions: ReadonlyArray<RegionRow>, allowed: ReadonlyArray<string>, health: (name: string) => RegionHealthView, now = Date.now(),
): RegionRow[] => {
  const live = regions.filter((r) => (allowed.length === 0 || allowed.includes(r.name))
    && (now - r.updatedAt < REGION_STALE_MS || now - (health(r.name).lastOkAt ?? 0) < REGION_STALE_MS));
  const byNearest = (a: RegionRow, b: RegionRow) => {
    const la = health(a.name).latencyMs ?? Number.POSITIVE_INFINITY;
    const lb = health(b.name).latencyMs ?? Number.POSITIVE_INFINITY;
    return la !== lb ? la - lb : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };
  const up = live.filter((r) => (health(r.name).downUntil ?? 0) <= now).sort(byNearest);
  return up.length > 0 ? up : live.sort(byNearest);
};
