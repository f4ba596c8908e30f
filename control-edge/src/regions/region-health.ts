import type { RegionHealthView } from "./choose-region.ts";

/** Weight of a new latency sample in the moving average. */
const LATENCY_EWMA_WEIGHT = 0.3;
/** How long a region that failed a request or probe is passed over. */
export const REGION_DOWN_MS = 5_000;

/**
 * The edge's view of each region's health: a moving average of quick requests' latency, and a
 * down mark after a failure (cleared by the next success). Pure bookkeeping; the region client
 * feeds it.
 *
 * @example
 * ```ts
 * const health = new RegionHealth();
 * health.succeeded("us-east", 12);
 * health.failed("eu-west");
 * health.view("eu-west").downUntil; // now + REGION_DOWN_MS
 * ```
 */
export class RegionHealth {
  private readonly regions = new Map<string, { latencyMs?: number; downUntil?: number; lastFailure?: string; lastOkAt?: number }>();

  view(name: string): RegionHealthView {
    return this.regions.get(name) ?? {};
  }

  /** The last failure's reason, while the region is marked down. */
  failure(name: string, now = Date.now()): string | undefined {
    const r = this.regions.get(name);
    return r && (r.downUntil ?? 0) > now ? r.lastFailure : undefined;
  }

  succeeded(name: string, latencyMs?: number, now = Date.now()): void {
    const r = this.regions.get(name) ?? {};
    r.lastOkAt = now;
    if (latencyMs !== undefined) r.latencyMs = r.latencyMs === undefined ? latencyMs : r.latencyMs + LATENCY_EWMA_WEIGHT * (latencyMs - r.latencyMs);
    r.downUntil = undefined;
    r.lastFailure = undefined;
    this.regions.set(name, r);
  }

  failed(name: string, reason = "no answer", now = Date.now()): void {
    const r = this.regions.get(name) ?? {};
    r.downUntil = now + REGION_DOWN_MS;
    r.lastFailure = reason;
    this.regions.set(name, r);
  }
}
