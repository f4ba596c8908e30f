import type { OfferLocation, Quote } from "./capacity-provider.ts";
import { gpuPreference, inCloudRegions } from "./request-fit.ts";

/** What a function allows, as `rankQuotes` applies it. */
export interface QuoteConstraints {
  /** The function's `gpu` list in preference order; empty for a CPU container. */
  readonly gpu: ReadonlyArray<string>;
  /** Only these clouds (case ignored); empty or absent for any. */
  readonly clouds?: ReadonlyArray<string>;
  /** Only these cloud regions or zones (case ignored); empty or absent for any. */
  readonly cloudRegions?: ReadonlyArray<string>;
}

/** A quote with the index of the `gpu` entry it satisfies (0 = most wanted). */
export interface RankedQuote extends Quote {
  readonly gpuPreference: number;
}

const text = (a: string | undefined, b: string | undefined): number => {
  const x = a ?? "";
  const y = b ?? "";
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Best first: see {@link rankQuotes}. */
const compareRanked = (a: RankedQuote, b: RankedQuote): number =>
  a.gpuPreference - b.gpuPreference ||
  a.pricePerSecond - b.pricePerSecond ||
  a.provisionDelayMs - b.provisionDelayMs ||
  a.gpuCount - b.gpuCount ||
  a.vCpus - b.vCpus ||
  a.memoryMiB - b.memoryMiB ||
  text(a.cloud, b.cloud) ||
  text(a.cloudRegion, b.cloudRegion) ||
  text(a.zone, b.zone) ||
  text(a.instanceType, b.instanceType);

/**
 * Order quotes for one container, best first, dropping those outside the constraints (a cloud
 * constraint never lets another cloud's quote through) and those fitting no `gpu` entry.
 *
 * The order, each key breaking ties of the one before:
 * 1. the request's GPU preference: every quote for the first `gpu` entry before any for the second;
 * 2. the node's full price per second. We provision a whole node and never share it across
 *    containers of other functions, so a container needing 2 GPUs that lands on an 8-GPU node
 *    pays for all 8: ranking by the node's price picks the smallest (cheapest) node that fits;
 * 3. the expected provisioning delay;
 * 4. the smaller node (GPUs, then vCPUs, then memory), then cloud, region, zone and instance
 *    type by name, so the order is the same on every run.
 *
 * @example
 * ```ts
 * const [best] = rankQuotes(quotes, { gpu: ["H100", "A100-80GB"], clouds: ["lambda", "runpod"] });
 * ```
 */
export const rankQuotes = (quotes: ReadonlyArray<Quote>, constraints: QuoteConstraints): ReadonlyArray<RankedQuote> => {
  const clouds = (constraints.clouds ?? []).map((c) => c.toLowerCase());
  return quotes
    .filter((q) => clouds.length === 0 || clouds.includes(q.cloud.toLowerCase()))
    .filter((q) => inCloudRegions(q, constraints.cloudRegions))
    .map((q) => ({ ...q, gpuPreference: gpuPreference(q, constraints.gpu) }))
    .filter((q) => q.gpuPreference >= 0)
    .sort(compareRanked);
};

const isSameOffer = (q: OfferLocation, failed: OfferLocation): boolean =>
  q.cloud === failed.cloud && q.cloudRegion === failed.cloudRegion && q.zone === failed.zone && q.instanceType === failed.instanceType;

/** How far a quote is from a stocked-out offer; lower is tried first. */
const failoverDistance = (q: OfferLocation, failed: OfferLocation): number => {
  if (q.cloud !== failed.cloud) return 3;
  if (q.cloudRegion !== failed.cloudRegion) return 2;
  return q.zone === failed.zone ? 1 : 0;
};

/**
 * After `failed` ran out of stock, the quotes to try next, in failover order. The failed offer
 * (same cloud, region, zone and instance type) is dropped; the rest, within each GPU preference
 * of the request, go:
 * 1. another zone of the same cloud region;
 * 2. another instance type in the same zone (or region, for clouds without zones);
 * 3. another region of the same cloud;
 * 4. another cloud.
 * Within each step the ranked order (price, delay, size) is kept. GPU preference stays first so
 * a stock-out never makes a less wanted GPU type win over a wanted one available elsewhere. The
 * failed offer comes from a quote or a {@link StockOutError}; call again on the result after the
 * next failure.
 *
 * @example
 * ```ts
 * let candidates = rankQuotes(quotes, { gpu: ["H100"] });
 * for (;;) {
 *   try { return await providerOf(candidates[0]).provision(candidates[0]); }
 *   catch (e) { if (!(e instanceof StockOutError)) throw e; candidates = nextAfterStockOut(candidates, e); }
 * }
 * ```
 */
export const nextAfterStockOut = (ranked: ReadonlyArray<RankedQuote>, failed: OfferLocation): ReadonlyArray<RankedQuote> =>
  ranked
    .filter((q) => !isSameOffer(q, failed))
    .map((quote, rank) => ({ quote, rank, distance: failoverDistance(quote, failed) }))
    .sort((a, b) => a.quote.gpuPreference - b.quote.gpuPreference || a.distance - b.distance || a.rank - b.rank)
    .map((c) => c.quote);
