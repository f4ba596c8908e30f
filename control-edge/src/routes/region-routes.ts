import { Hono } from "hono";
import { Effect } from "effect";
import type { EdgeEnv } from "../edge-env.ts";
import { runApi } from "../http/run-api.ts";
import { REGION_STALE_MS } from "../regions/choose-region.ts";
import type { RegionClient } from "../regions/region-client.ts";

/** A region as `ferry region list` shows it. */
export interface RegionListing {
  readonly name: string;
  /** "up": answering; "down": its last request or health check failed; "stale": it stopped refreshing its record. */
  readonly health: "up" | "down" | "stale";
  /** Round trip of a health check from this edge, ms (smoothed); null before the first. */
  readonly latencyMs: number | null;
  /** Since the region last refreshed its record, ms. */
  readonly lastSeenMs: number;
  readonly reason?: string;
}

/**
 * `/v1/regions`: every region the platform knows, with its health and its latency from this edge
 * (checked now), nearest first.
 *
 * @example
 * ```ts
 * app.route("/v1/regions", regionRoutes(regions));
 * ```
 */
export const regionRoutes = (regions: RegionClient) => new Hono<EdgeEnv>()
  .get("/", (c) => runApi(c, Effect.gen(function*() {
    const rows = yield* regions.regions();
    const now = Date.now();
    yield* Effect.promise(() => regions.probe(rows.filter((r) => now - r.updatedAt < REGION_STALE_MS)));
    return rows.map((r): RegionListing => {
      const view = regions.health.view(r.name);
      const reason = regions.health.failure(r.name);
      const stale = now - r.updatedAt >= REGION_STALE_MS;
      return {
        name: r.name,
        health: stale ? "stale" : reason !== undefined ? "down" : "up",
        latencyMs: view.latencyMs === undefined ? null : Math.round(view.latencyMs * 100) / 100,
        lastSeenMs: now - r.updatedAt,
        ...(reason !== undefined ? { reason } : {}),
      };
    }).sort((a, b) => (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity) || a.name.localeCompare(b.name));
  }), (list) => c.json({ regions: list })));
