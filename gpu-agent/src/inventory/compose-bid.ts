import type { AgentBid, CallForBids } from "@ferry/core/node";
import type { Claim } from "./gpu-allocator.ts";

/** Expected start of a function with an idle warm container on the node: it only takes the input. */
export const WARM_START_MS = 5;
/** Cold-start estimate before the node has measured any of its own. */
export const DEFAULT_COLD_START_MS = 400;
/** Added when the function's bundle must first be fetched from the region. */
export const BUNDLE_FETCH_ESTIMATE_MS = 150;
/** Weight of the newest measurement in the cold-start moving average. */
const EWMA_WEIGHT = 0.3;

/** The node's measured cold-start time, an exponentially weighted moving average. */
export class ColdStartEstimate {
  private value = DEFAULT_COLD_START_MS;
  private seen = false;

  observe(ms: number): void {
    this.value = this.seen ? this.value * (1 - EWMA_WEIGHT) + ms * EWMA_WEIGHT : ms;
    this.seen = true;
  }

  get ms(): number {
    return Math.round(this.value);
  }
}

/**
 * The agent's answer to a call for bids: its price, what it has free, and how fast it expects to
 * start each function asked for (warm container < cached bundle < fetch first). One bid covers
 * every demand; the region's auction decides which it wins.
 *
 * @example
 * ```ts
 * composeBid(call, { pricePerHour: 2.49, free, runningContainers: 0, coldStartMs: 400,
 *   warmFunctions: new Set(), cachedBundles: new Set() });
 * ```
 */
export const composeBid = (call: CallForBids, node: {
  readonly pricePerHour: number;
  readonly free: Claim;
  readonly runningContainers: number;
  readonly coldStartMs: number;
  readonly warmFunctions: ReadonlySet<string>;
  readonly cachedBundles: ReadonlySet<string>;
}): AgentBid => {
  const byFunction: Record<string, number> = {};
  for (const d of call.demands) {
    byFunction[d.functionId] = node.warmFunctions.has(d.functionId)
      ? WARM_START_MS
      : node.coldStartMs + (node.cachedBundles.has(d.bundleHash) ? 0 : BUNDLE_FETCH_ESTIMATE_MS);
  }
  return {
    auctionId: call.auctionId,
    pricePerHour: node.pricePerHour,
    freeCpu: Math.max(0, node.free.cpu),
    freeMemoryMib: Math.max(0, node.free.memoryMiB),
    freeGpuIndices: [...node.free.gpuIndices],
    baseStartLatencyMs: node.coldStartMs + BUNDLE_FETCH_ESTIMATE_MS,
    startLatencyMsByFunction: byFunction,
    runningContainers: node.runningContainers,
  };
};
