import { Effect } from "effect";
import { STATE_SEQ_HEADER, TtlCache, UnavailableError, type RegionRow, type Storage } from "@ferry/core";
import { routeOrder } from "./choose-region.ts";
import { RegionHealth } from "./region-health.ts";

/** Regions are re-read from state at most this often. */
const REGION_CACHE_MS = 2_000;
/** Every live region is probed at most this often (latency for routing, and down marks). */
export const REGION_PROBE_INTERVAL_MS = 1_000;
/** A probe slower than this marks the region down. */
export const REGION_PROBE_TIMEOUT_MS = 1_000;
const INTERNAL_TOKEN_HEADER = "x-ferry-internal-token";

/**
 * How the edge reaches regions' internal APIs: which region (nearest healthy one the function
 * allows, by probed latency), and failing over to the next when one stops answering.
 */
export class RegionClient {
  readonly health = new RegionHealth();
  private readonly cache = new TtlCache<"regions", ReadonlyArray<RegionRow>>(REGION_CACHE_MS);
  private readonly storage: Storage["Service"];
  private readonly internalToken: string;
  private readonly fetchFn: typeof fetch;
  private readonly stateSeq: (() => number) | undefined;
  private lastProbe = 0;

  constructor(storage: Storage["Service"], internalToken: string, fetchFn?: typeof fetch, stateSeq?: () => number) {
    this.storage = storage;
    this.internalToken = internalToken;
    // Called unbound: workerd refuses its global fetch called as another object's method.
    this.fetchFn = fetchFn ?? ((input, init) => fetch(input, init));
    this.stateSeq = stateSeq;
  }

  regions(): Effect.Effect<ReadonlyArray<RegionRow>, UnavailableError> {
    const hit = this.cache.get("regions");
    if (hit) {
      this.maybeProbe(hit);
      return Effect.succeed(hit);
    }
    return this.storage.listRegions().pipe(
      Effect.tap((regions) => Effect.sync(() => {
        this.cache.set("regions", regions);
        this.maybeProbe(regions);
      })),
      Effect.mapError(() => new UnavailableError({ message: "region list unavailable" })),
    );
  }

  /** The regions a request allowed in `allowed` may go to, best first (see `routeOrder`). */
  candidates(allowed: ReadonlyArray<string>): Effect.Effect<RegionRow[], UnavailableError> {
    return this.regions().pipe(Effect.flatMap((regions) => {
      const order = routeOrder(regions, allowed, (name) => this.health.view(name));
      return order.length > 0 ? Effect.succeed(order) : Effect.fail(new UnavailableError({
        message: allowed.length > 0
          ? `no region among ${allowed.join(", ")} is up (regions up: ${regions.map((x) => x.name).join(", ") || "none"})`
          : "no region is up",
      }));
    }));
  }

  /** The region a new call of a function allowed in `allowed` goes to. */
  pick(allowed: ReadonlyArray<string>): Effect.Effect<RegionRow, UnavailableError> {
    return this.candidates(allowed).pipe(Effect.map((order) => order[0]!));
  }

  byName(name: string): Effect.Effect<RegionRow, UnavailableError> {
    return this.regions().pipe(Effect.flatMap((regions) => {
      const r = regions.find((x) => x.name === name);
      return r ? Effect.succeed(r) : Effect.fail(new UnavailableError({ message: `region ${name} is not up` }));
    }));
  }

  /** Call a region's internal API; network failures mark the region down and become 503s. */
  request(region: RegionRow, path: string, init: RequestInit = {}): Effect.Effect<Response, UnavailableError> {
    const seq = this.stateSeq?.();
    return Effect.tryPromise({
      try: () => this.fetchFn(`${region.url}${path}`, {
        ...init,
        headers: {
          ...(init.body ? { "content-type": "application/json" } : {}),
          [INTERNAL_TOKEN_HEADER]: this.internalToken,
          ...(seq ? { [STATE_SEQ_HEADER]: String(seq) } : {}),
        },
      }),
      catch: (cause) => {
        this.health.failed(region.name, String(cause));
        return new UnavailableError({ message: `region ${region.name} did not answer: ${String(cause)}` });
      },
    });
  }

  /**
   * Send a request that any of `allowed`'s regions can serve to the best one that answers,
   * trying the next on a network failure (the body must be resendable: a string). `onTry` runs
   * before each attempt (e.g. to record which region a call went to).
   */
  requestFirst<E = never>(
    allowed: ReadonlyArray<string>, path: string, init: RequestInit, onTry?: (region: RegionRow) => Effect.Effect<void, E>,
  ): Effect.Effect<{ region: RegionRow; response: Response }, UnavailableError | E> {
    const self = this;
    return Effect.gen(function*() {
      const order = yield* self.candidates(allowed);
      const failures: string[] = [];
      for (const region of order) {
        if (onTry) yield* onTry(region);
        const response = yield* self.request(region, path, init).pipe(Effect.option);
        if (response._tag === "Some") return { region, response: response.value };
        failures.push(`${region.name}: ${self.health.failure(region.name) ?? "no answer"}`);
      }
      return yield* Effect.fail(new UnavailableError({ message: `no region answered (${failures.join("; ")})` }));
    });
  }

  /** Probe every live region's health now: latency for routing, a down mark for those that fail. */
  async probe(regions: ReadonlyArray<RegionRow>): Promise<void> {
    this.lastProbe = Date.now();
    await Promise.all(regions.map(async (r) => {
      const started = performance.now();
      try {
        const res = await this.fetchFn(`${r.url}/internal/health`, {
          headers: { [INTERNAL_TOKEN_HEADER]: this.internalToken }, signal: AbortSignal.timeout(REGION_PROBE_TIMEOUT_MS),
        });
        await res.body?.cancel();
        if (res.ok) this.health.succeeded(r.name, performance.now() - started);
        else this.health.failed(r.name, `health check answered ${res.status}`);
      } catch (e) {
        this.health.failed(r.name, `health check failed: ${String(e)}`);
      }
    }));
  }

  private maybeProbe(regions: ReadonlyArray<RegionRow>): void {
    if (Date.now() - this.lastProbe < REGION_PROBE_INTERVAL_MS || regions.length < 2) return;
    void this.probe(regions);
  }
}
