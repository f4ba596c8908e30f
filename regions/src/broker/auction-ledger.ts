// The mutable state of one auction: every usable bid as numbered agents, their remaining
// capacity (consumed as demands are assigned) and the indexes that find candidates quickly.
import type { Bid } from "./auction-types.ts";
import { ANY_GPU } from "./auction-gpu-spec.ts";

/** Slack on CPU comparisons, so fractional cores subtracted repeatedly still fit exactly. */
export const CPU_EPSILON = 1e-9;

/** Lowest reputation honoured; anything lower (or not a number) counts as this. */
export const MIN_REPUTATION = 1e-6;

/** The free GPUs of one type on one agent; `indices` ascending, the first `taken` already assigned. */
export interface GpuGroup {
  readonly key: string;
  readonly type: string;
  readonly indices: ReadonlyArray<number>;
  taken: number;
}

/** How the score weighs price, latency, packing and trust (resolved options of the auction). */
export interface ScoreWeights {
  readonly latencyPriceUsdPerS: number;
  readonly packingDiscount: number;
  readonly maxStartsPerAgent: number;
  readonly reputation: ((agentId: string) => number) | undefined;
}

/** Agents are numbered 0..count-1 in the order of `bids`; arrays are indexed by that number. */
export interface AuctionLedger {
  readonly count: number;
  /** 0..count-1, to scan every agent. */
  readonly everyAgent: ReadonlyArray<number>;
  readonly bids: ReadonlyArray<Bid>;
  readonly freeCpu: Float64Array;
  readonly freeMemoryMiB: Float64Array;
  readonly starts: Int32Array;
  readonly groups: ReadonlyArray<ReadonlyArray<GpuGroup>>;
  /** Tie-break order: least free capacity in the bid (GPUs, then CPU, then memory), then agentId. */
  readonly rank: Int32Array;
  /** pricePerSecond × packing discount (when the node already runs containers). */
  readonly shareRate: Float64Array;
  readonly reputation: Float64Array;
  readonly cloudKey: ReadonlyArray<string>;
  /** Lower-cased GPU type (and `ANY_GPU`) → agents with at least one free GPU of it, ascending. */
  readonly byGpu: ReadonlyMap<string, ReadonlyArray<number>>;
  readonly byCloud: ReadonlyMap<string, ReadonlyArray<number>>;
  /** functionId → agents reporting a per-function start latency, with that latency. */
  readonly hints: ReadonlyMap<string, { readonly agents: number[]; readonly latencyMs: number[] }>;
  readonly weights: ScoreWeights;
}

const finiteAtLeastZero = (x: number): boolean => Number.isFinite(x) && x >= 0;

/**
 * Whether the auction considers a bid at all: price, capacities and latency must be finite and
 * not negative, and the agentId not empty.
 *
 * @example
 * ```ts
 * isUsableBid({ ...bid, pricePerSecond: Number.NaN }); // false
 * ```
 */
export const isUsableBid = (b: Bid): boolean =>
  b.agentId !== "" && finiteAtLeastZero(b.pricePerSecond) && finiteAtLeastZero(b.startLatencyMs) &&
  finiteAtLeastZero(b.free.cpu) && finiteAtLeastZero(b.free.memoryMiB) &&
  finiteAtLeastZero(b.total.cpu) && finiteAtLeastZero(b.total.memoryMiB) && finiteAtLeastZero(b.total.gpus);

/**
 * The usable bids, one per agent (the last bid an agent sent counts), in first-seen order.
 *
 * @example
 * ```ts
 * standingBids([a1, b1, a2]); // [a2, b1]
 * ```
 */
export const standingBids = (bids: ReadonlyArray<Bid>): Bid[] => {
  const byAgent = new Map<string, Bid>();
  for (const b of bids) if (isUsableBid(b)) byAgent.set(b.agentId, b);
  return [...byAgent.values()];
};

/**
 * Order two bids by free capacity as bid, least first (GPUs, CPU, memory), then agentId in
 * code-unit order: the score tie-break, so ties pack onto the fuller node.
 *
 * @example
 * ```ts
 * [...bids].sort(byLeastFreeCapacity)[0].agentId;
 * ```
 */
export const byLeastFreeCapacity = (a: Bid, b: Bid): number =>
  a.free.gpus.length - b.free.gpus.length || a.free.cpu - b.free.cpu || a.free.memoryMiB - b.free.memoryMiB ||
  (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0);

/**
 * The largest fraction of the node's CPU, memory or GPUs a container takes (0 when it takes
 * nothing; each total is at least what the bid says is free).
 *
 * @example
 * ```ts
 * containerShare(bid, 2, 4096, 1); // max(2/cpu, 4096/memory, 1/gpus)
 * ```
 */
export const containerShare = (bid: Bid, cpu: number, memoryMiB: number, gpus: number): number => {
  const cpuShare = cpu > 0 ? cpu / Math.max(bid.total.cpu, bid.free.cpu) : 0;
  const memShare = memoryMiB > 0 ? memoryMiB / Math.max(bid.total.memoryMiB, bid.free.memoryMiB) : 0;
  const gpuShare = gpus > 0 ? gpus / Math.max(bid.total.gpus, bid.free.gpus.length) : 0;
  return Math.max(cpuShare, memShare, gpuShare);
};

const pushTo = <K>(map: Map<K, number[]>, key: K, agent: number): void => {
  const list = map.get(key);
  if (list === undefined) map.set(key, [agent]);
  else if (list[list.length - 1] !== agent) list.push(agent);
};

const gpuGroupsOf = (bid: Bid): GpuGroup[] => {
  const byKey = new Map<string, { type: string; indices: number[] }>();
  const seen = new Set<number>();
  for (const g of bid.free.gpus) {
    if (seen.has(g.index)) continue; // an index listed twice is one GPU
    seen.add(g.index);
    const key = g.type.toLowerCase();
    const group = byKey.get(key);
    if (group === undefined) byKey.set(key, { type: g.type, indices: [g.index] });
    else group.indices.push(g.index);
  }
  return [...byKey].map(([key, g]) => ({ key, type: g.type, indices: g.indices.sort((x, y) => x - y), taken: 0 }));
};

/**
 * Number the standing bids and index them for one auction; `functionIds` limits the latency
 * hints kept to the functions demanded.
 *
 * @example
 * ```ts
 * const ledger = openLedger(bids, new Set(demands.map((d) => d.functionId)), weights);
 * ```
 */
export const openLedger = (allBids: ReadonlyArray<Bid>, functionIds: ReadonlySet<string>, weights: ScoreWeights): AuctionLedger => {
  const bids = standingBids(allBids);
  const count = bids.length;
  const freeCpu = new Float64Array(count);
  const freeMemoryMiB = new Float64Array(count);
  const shareRate = new Float64Array(count);
  const reputation = new Float64Array(count);
  const groups: GpuGroup[][] = [];
  const cloudKey: string[] = [];
  const byGpu = new Map<string, number[]>();
  const byCloud = new Map<string, number[]>();
  const hints = new Map<string, { agents: number[]; latencyMs: number[] }>();
  for (let a = 0; a < count; a++) {
    const b = bids[a];
    freeCpu[a] = b.free.cpu;
    freeMemoryMiB[a] = b.free.memoryMiB;
    shareRate[a] = b.pricePerSecond * (b.runningContainers > 0 ? weights.packingDiscount : 1);
    const r = weights.reputation === undefined ? 1 : weights.reputation(b.agentId);
    reputation[a] = r >= MIN_REPUTATION ? Math.min(r, 1) : MIN_REPUTATION;
    const g = gpuGroupsOf(b);
    groups.push(g);
    for (const group of g) pushTo(byGpu, group.key, a);
    if (g.length > 0) pushTo(byGpu, ANY_GPU, a);
    cloudKey.push(b.cloud.toLowerCase());
    pushTo(byCloud, cloudKey[a], a);
    for (const [fn, ms] of b.startLatencyMsByFunction ?? []) {
      if (!functionIds.has(fn) || !finiteAtLeastZero(ms)) continue;
      const h = hints.get(fn);
      if (h === undefined) hints.set(fn, { agents: [a], latencyMs: [ms] });
      else { h.agents.push(a); h.latencyMs.push(ms); }
    }
  }
  const order = Array.from({ length: count }, (_, a) => a).sort((x, y) => byLeastFreeCapacity(bids[x], bids[y]));
  const rank = new Int32Array(count);
  for (let i = 0; i < count; i++) rank[order[i]] = i;
  return {
    count, everyAgent: Array.from({ length: count }, (_, a) => a), bids, freeCpu, freeMemoryMiB, starts: new Int32Array(count), groups, rank, shareRate, reputation,
    cloudKey, byGpu, byCloud, hints, weights,
  };
};

/**
 * An agent's score for a container of `share` starting in `latencyMs`: lower wins. Kept in one
 * place so every caller does the same floating-point operations in the same order.
 *
 * @example
 * ```ts
 * agentScore(ledger, agent, containerShare(ledger.bids[agent], 1, 1024, 0), 2_000);
 * ```
 */
export const agentScore = (ledger: AuctionLedger, agent: number, share: number, latencyMs: number): number =>
  (share * ledger.shareRate[agent] + ledger.weights.latencyPriceUsdPerS * (latencyMs / 1000)) / ledger.reputation[agent];
