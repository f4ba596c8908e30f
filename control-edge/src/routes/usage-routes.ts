import { Hono } from "hono";
import { Effect } from "effect";
import { parseSince, UsageGroupKeys, UsageStore, ValidationError, type UsageGroupKey } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";

/** `ferry usage` looks this far back when `since` is left out. */
export const DEFAULT_USAGE_SINCE = "7d";

/**
 * `/v1/usage`: metered container-seconds, GPU-seconds and cost for the caller's workspace, summed
 * by any of app, function, gpu, cloud, region. `/v1/gpu/market`: the capacity on offer in every
 * live region, per cloud, cloud region and GPU type, with prices.
 */
export const usageRoutes = (deps: EdgeDeps, regions: RegionClient) => {
  const usage = UsageStore.fromStorage(deps.storage);
  return new Hono<EdgeEnv>()
    .get("/usage", (c) => {
      const since = c.req.query("since") ?? DEFAULT_USAGE_SINCE;
      const start = parseSince(since, Date.now());
      if (start === undefined) return errorResponse(c, new ValidationError({ field: "query.since", message: `query.since: expected a window like 7d, 12h, 30m or an ISO date within 400 days, got ${JSON.stringify(since)}` }));
      const by = (c.req.query("by") ?? "app").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
      const bad = by.find((k) => !(UsageGroupKeys as ReadonlyArray<string>).includes(k));
      if (bad !== undefined) return errorResponse(c, new ValidationError({ field: "query.by", message: `query.by: unknown grouping ${JSON.stringify(bad)}; expected some of ${UsageGroupKeys.join(", ")}` }));
      return runApi(c, usage.summary(c.get("workspaceId"), start, by as UsageGroupKey[]).pipe(Effect.mapError((e) => new ValidationError({ field: "usage", message: e.message }))),
        (lines) => c.json({ since: start, by, lines, totalCostUsd: lines.reduce((s, l) => s + l.costUsd, 0) }));
    })
    .get("/gpu/market", (c) => runApi(c, regions.regions().pipe(
      Effect.flatMap((live) => Effect.forEach(live, (region) => regions.request(region, "/internal/gpu/market").pipe(
        Effect.flatMap((res) => Effect.promise(() => res.json() as Promise<{ offers: unknown[] }>)),
        Effect.map((body) => ({ region: region.name, offers: body.offers })),
        Effect.orElseSucceed(() => ({ region: region.name, offers: [] as unknown[], unavailable: true })),
      ), { concurrency: "unbounded" })),
    ), (byRegion) => c.json({ regions: byRegion })));
};
