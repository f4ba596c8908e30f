// The auction rule of `clearAuction`, written as the obvious scan of every bid for every demand
// (O(demands × agents)): the specification the fast implementation is checked against.
import type { AuctionResult, Assignment, Bid, ClearAuctionOptions, Demand, Unplaced } from "../src/broker/auction-types.ts";
import { parseGpuSpec, type GpuSpec } from "../src/broker/auction-gpu-spec.ts";
import { byLeastFreeCapacity, containerShare, standingBids } from "../src/broker/auction-ledger.ts";
import { invalidDemandReason } from "../src/broker/auction-unplaced-reason.ts";
import { DEFAULT_MAX_STARTS_PER_AGENT, LATENCY_PRICE_USD_PER_S, PACKING_DISCOUNT } from "../src/broker/clear-auction.ts";

interface ScanAgent {
  readonly bid: Bid;
  freeCpu: number;
  freeMemoryMiB: number;
  starts: number;
  /** Free GPUs as bid (an index listed twice counted once), each marked when assigned. */
  readonly gpus: Array<{ readonly index: number; readonly type: string; readonly key: string; taken: boolean }>;
}

const toAgent = (bid: Bid): ScanAgent => {
  const seen = new Set<number>();
  const gpus: ScanAgent["gpus"] = [];
  for (const g of bid.free.gpus) {
    if (seen.has(g.index)) continue;
    seen.add(g.index);
    gpus.push({ index: g.index, type: g.type, key: g.type.toLowerCase(), taken: false });
  }
  return { bid, freeCpu: bid.free.cpu, freeMemoryMiB: bid.free.memoryMiB, starts: 0, gpus };
};

/** The GPUs `spec` would take on the agent (lowest indices of its first type with enough), or undefined. */
const pickGpus = (agent: ScanAgent, spec: GpuSpec, all: boolean): ScanAgent["gpus"] | undefined => {
  const keys = [...new Set(agent.gpus.map((g) => g.key))].filter((k) => spec.key === "any" || k === spec.key);
  for (const key of keys) {
    const free = agent.gpus.filter((g) => g.key === key && (all || !g.taken)).sort((x, y) => x.index - y.index);
    if (free.length >= spec.count) return free.slice(0, spec.count);
  }
  return undefined;
};

const allowed = (a: ScanAgent, d: Demand): boolean =>
  (d.clouds.length === 0 || d.clouds.some((c) => c.toLowerCase() === a.bid.cloud.toLowerCase())) &&
  (d.cloudRegions.length === 0 || d.cloudRegions.includes(a.bid.cloudRegion));

const roomFor = (a: ScanAgent, d: Demand, specs: ReadonlyArray<GpuSpec>, asBid: boolean): boolean => {
  const cpu = asBid ? a.bid.free.cpu : a.freeCpu;
  const mem = asBid ? a.bid.free.memoryMiB : a.freeMemoryMiB;
  return cpu + 1e-9 >= d.cpu && mem >= d.memoryMiB && (specs.length === 0 || specs.some((s) => pickGpus(a, s, asBid) !== undefined));
};

const reasonFor = (agents: ReadonlyArray<ScanAgent>, d: Demand, specs: ReadonlyArray<GpuSpec>, max: number): string => {
  if (agents.length === 0) return "no agent bid in this auction";
  const inClouds = agents.filter((a) => d.clouds.length === 0 || d.clouds.some((c) => c.toLowerCase() === a.bid.cloud.toLowerCase()));
  if (inClouds.length === 0) return `only clouds ${d.clouds.map((c) => c.toLowerCase()).join(", ")} allowed, and no agent bid from them`;
  const eligible = inClouds.filter((a) => allowed(a, d));
  if (eligible.length === 0) return `only cloud regions ${d.cloudRegions.join(", ")} allowed, and no agent bid from them`;
  const gpuWords = specs.map((s) => s.label).join(" or ");
  const need = `${d.cpu} CPU / ${d.memoryMiB} MiB` + (specs.length > 0 ? ` with gpu ${gpuWords}` : "");
  if (specs.length > 0 && !eligible.some((a) => specs.some((s) => pickGpus(a, s, true) !== undefined))) return `no agent offers gpu ${gpuWords}`;
  if (!eligible.some((a) => roomFor(a, d, specs, true))) return `no capacity free for ${need}`;
  if (eligible.some((a) => a.starts >= max && roomFor(a, d, specs, false))) return `every agent with room for ${need} already got ${max} starts in this auction`;
  return `no capacity left for ${need}: earlier demands in this auction took it`;
};

/**
 * `clearAuction` by brute force: for each demand in order, for each GPU spec in order, score
 * every feasible agent and take the least (score, free capacity as bid, agentId).
 *
 * @example
 * ```ts
 * expect(clearAuction(demands, bids)).toEqual(clearAuctionByScan(demands, bids));
 * ```
 */
export const clearAuctionByScan = (demands: ReadonlyArray<Demand>, bids: ReadonlyArray<Bid>, opts: ClearAuctionOptions = {}): AuctionResult => {
  const max = opts.maxStartsPerAgent ?? DEFAULT_MAX_STARTS_PER_AGENT;
  const latencyPrice = opts.latencyPriceUsdPerS ?? LATENCY_PRICE_USD_PER_S;
  const discount = opts.packingDiscount ?? PACKING_DISCOUNT;
  const agents = standingBids(bids).map(toAgent);
  const assignments: Assignment[] = [];
  const unplaced: Unplaced[] = [];
  for (const d of demands) {
    const parsed = d.gpu.map(parseGpuSpec);
    const specs = parsed.filter((s): s is GpuSpec => s !== undefined);
    const invalid = invalidDemandReason(d, parsed);
    if (invalid !== undefined) {
      unplaced.push({ demandId: d.demandId, reason: invalid });
      continue;
    }
    let won: Assignment | undefined;
    for (const spec of specs.length > 0 ? specs : [undefined]) {
      let best: { agent: ScanAgent; score: number; gpus: ScanAgent["gpus"] } | undefined;
      for (const a of agents) {
        if (!allowed(a, d) || a.starts >= max || a.freeCpu + 1e-9 < d.cpu || a.freeMemoryMiB < d.memoryMiB) continue;
        const gpus = spec === undefined ? [] : pickGpus(a, spec, false);
        if (gpus === undefined) continue;
        const hint = a.bid.startLatencyMsByFunction?.get(d.functionId);
        const latencyMs = hint !== undefined && Number.isFinite(hint) && hint >= 0 ? Math.min(a.bid.startLatencyMs, hint) : a.bid.startLatencyMs;
        const share = containerShare(a.bid, d.cpu, d.memoryMiB, spec?.count ?? 0);
        const rate = a.bid.pricePerSecond * (a.bid.runningContainers > 0 ? discount : 1);
        const r = opts.reputation === undefined ? 1 : opts.reputation(a.bid.agentId);
        const reputation = r >= 1e-6 ? Math.min(r, 1) : 1e-6;
        const score = (share * rate + latencyPrice * (latencyMs / 1000)) / reputation;
        if (best === undefined || score < best.score || (score === best.score && byLeastFreeCapacity(a.bid, best.agent.bid) < 0)) {
          best = { agent: a, score, gpus };
        }
      }
      if (best === undefined) continue;
      const a = best.agent;
      a.freeCpu -= d.cpu;
      a.freeMemoryMiB -= d.memoryMiB;
      a.starts++;
      for (const g of best.gpus) g.taken = true;
      won = {
        demandId: d.demandId, agentId: a.bid.agentId, gpuIndices: best.gpus.map((g) => g.index),
        gpuType: a.gpus.find((g) => g.key === best.gpus[0]?.key)?.type, pricePerSecond: containerShare(a.bid, d.cpu, d.memoryMiB, spec?.count ?? 0) * a.bid.pricePerSecond,
      };
      break;
    }
    if (won !== undefined) assignments.push(won);
    else unplaced.push({ demandId: d.demandId, reason: reasonFor(agents, d, specs, max) });
  }
  return { assignments, unplaced };
};
