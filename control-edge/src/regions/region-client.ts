import { Effect } from "effect";
import { TtlCache, UnavailableError, type RegionRow, type Storage } from "@ferry/core";
import { chooseRegion } from "./choose-region.ts";

/** Regions are re-read from state at most this often. */
const REGION_CACHE_MS = 2_000;
const INTERNAL_TOKEN_HEADER = "x-ferry-internal-token";

/** How the edge reaches regions' internal APIs. */
export class RegionClient {
  private readonly cache = new TtlCache<"regions", ReadonlyArray<RegionRow>>(REGION_CACHE_MS);
  private readonly storage: Storage["Service"];
  private readonly internalToken: string;
  private readonly fetchFn: typeof fetch;

  constructor(storage: Storage["Service"], internalToken: string, fetchFn: typeof fetch = fetch) {
    this.storage = storage;
    this.internalToken = internalToken;
    this.fetchFn = fetchFn;
  }

  regions(): Effect.Effect<ReadonlyArray<RegionRow>, UnavailableError> {
    const hit = this.cache.get("regions");
    if (hit) return Effect.succeed(hit);
    return this.storage.listRegions().pipe(
      Effect.tap((regions) => Effect.sync(() => this.cache.set("regions", regions))),
      Effect.mapError(() => new UnavailableError({ message: "region list unavailable" })),
    );
  }

  /** The region a new call of a function allowed in `allowed` goes to. */
  pick(allowed: ReadonlyArray<string>): Effect.Effect<RegionRow, UnavailableError> {
    return this.regions().pipe(Effect.flatMap((regions) => {
      const r = chooseRegion(regions, allowed);
      return r ? Effect.succeed(r) : Effect.fail(new UnavailableError({
        message: allowed.length > 0
          ? `no region among ${allowed.join(", ")} is up (regions up: ${regions.map((x) => x.name).join(", ") || "none"})`
          : "no region is up",
      }));
    }));
  }

  byName(name: string): Effect.Effect<RegionRow, UnavailableError> {
    return this.regions().pipe(Effect.flatMap((regions) => {
      const r = regions.find((x) => x.name === name);
      return r ? Effect.succeed(r) : Effect.fail(new UnavailableError({ message: `region ${name} is not up` }));
    }));
  }

  /** Call a region's internal API; network failures become 503s. */
  request(region: RegionRow, path: string, init: RequestInit = {}): Effect.Effect<Response, UnavailableError> {
    return Effect.tryPromise({
      try: () => this.fetchFn(`${region.url}${path}`, {
        ...init,
        headers: { ...(init.body ? { "content-type": "application/json" } : {}), [INTERNAL_TOKEN_HEADER]: this.internalToken },
      }),
      catch: (cause) => new UnavailableError({ message: `region ${region.name} did not answer: ${String(cause)}` }),
    });
  }
}
