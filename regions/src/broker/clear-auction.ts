// Clearing one auction: which agent starts each pending container. Pure and deterministic.
import type { AuctionResult, Assignment, Bid, ClearAuctionOptions, Demand, Unplaced } from "./auction-types.ts";
import { ANY_GPU, parseGpuSpec, type GpuSpec } from "./auction-gpu-spec.ts";
import { agentScore, containerShare, CPU_EPSILON, openLedger, type AuctionLedger } from "./auction-ledger.ts";
import { CandidateQueue, precedes } from "./auction-candidate-queue.ts";
import { explainUnplaced, invalidDemandReason, type DemandShape } from "./auction-unplaced-reason.ts";

/**
 * USD per second of node price that one second of expected start latency is worth: an agent
 * that starts 20 s sooner may charge up to 20 × 1e-5 USD/s (0.72 USD/hour) more and still win.
 */
export const LATENCY_PRICE_USD_PER_S = 1e-5;

/** Share-cost multiplier for nodes already running containers, so work packs and idle nodes drain. */
export const PACKING_DISCOUNT = 0.5;

/** Containers one agent is given per auction unless the options say otherwise. */
export const DEFAULT_MAX_STARTS_PER_AGENT = 4;

/** The GPU indices of every CPU-only assignment (shared: assignments are read-only). */
const NO_GPU_INDICES: ReadonlyArray<number> = Object.freeze([]);

/** The GPU "spec" of a CPU-only demand: no GPUs. */
const NO_GPU: GpuSpec = { key: "", count: 0, label: "" };

/** One queue of candidates for one acceptable spec of a shape, plus one per warm function. */
interface SpecCandidates {
  readonly spec: GpuSpec;
  readonly base: CandidateQueue;
  readonly byFunction: Map<string, CandidateQueue | undefined>;
  readonly fits: (agent: number, group: number) => boolean;
}

/** Demands with equal resources and constraints share their candidate queues and their failure. */
interface ShapeState {
  readonly shape: DemandShape;
  readonly slots: SpecCandidates[];
  failure: string | undefined;
}

/** Separators no resource number, GPU spec, cloud or region name contains. */
const FIELD = "\u0001";
const ITEM = "\u0002";

const shapeKey = (d: Demand): string =>
  d.cpu + FIELD + d.memoryMiB + FIELD + d.gpu.join(ITEM) + FIELD + d.clouds.join(ITEM) + FIELD + d.cloudRegions.join(ITEM);

/** Candidate entries for `spec` among `agents`: allowed by the constraints, with room now. */
const queueFor = (
  ledger: AuctionLedger, shape: DemandShape, spec: GpuSpec, agents: ReadonlyArray<number>, latencyMs: ReadonlyArray<number> | Float64Array,
  fits: (agent: number, group: number) => boolean,
): CandidateQueue => {
  const ids: number[] = [];
  const groups: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < agents.length; i++) {
    const a = agents[i];
    if (shape.clouds.length > 0 && !shape.clouds.includes(ledger.cloudKey[a])) continue;
    if (shape.cloudRegions.length > 0 && !shape.cloudRegions.includes(ledger.bids[a].cloudRegion)) continue;
    const before = ids.length;
    if (spec.count === 0) {
      if (fits(a, -1)) { ids.push(a); groups.push(-1); }
    } else {
      const own = ledger.groups[a];
      for (let g = 0; g < own.length; g++) if ((spec.key === ANY_GPU || own[g].key === spec.key) && fits(a, g)) { ids.push(a); groups.push(g); }
    }
    if (ids.length === before) continue;
    const score = agentScore(ledger, a, containerShare(ledger.bids[a], shape.cpu, shape.memoryMiB, spec.count), latencyMs[i]);
    while (scores.length < ids.length) scores.push(score);
  }
  return new CandidateQueue(ids, groups, scores, ledger.rank);
};

/** Agents worth scanning for a spec: those with GPUs of its type, those in the allowed clouds, or all. */
const agentsFor = (ledger: AuctionLedger, shape: DemandShape, spec: GpuSpec): ReadonlyArray<number> => {
  if (spec.count > 0) return ledger.byGpu.get(spec.key) ?? [];
  if (shape.clouds.length === 0) return ledger.everyAgent;
  return [...new Set(shape.clouds)].flatMap((c) => ledger.byCloud.get(c) ?? []);
};

const openShape = (ledger: AuctionLedger, d: Demand): ShapeState => {
  const parsed = d.gpu.map(parseGpuSpec);
  const specs = parsed.filter((s): s is GpuSpec => s !== undefined);
  const shape: DemandShape = {
    cpu: d.cpu, memoryMiB: d.memoryMiB, specs,
    clouds: d.clouds.map((c) => c.toLowerCase()), cloudRegions: d.cloudRegions,
  };
  const invalid = invalidDemandReason(d, parsed);
  if (invalid !== undefined) return { shape, slots: [], failure: invalid };
  const max = ledger.weights.maxStartsPerAgent;
  const slots = (specs.length > 0 ? specs : [NO_GPU]).map((spec): SpecCandidates => {
    const fits = (a: number, g: number): boolean => {
      if (ledger.starts[a] >= max || ledger.freeCpu[a] + CPU_EPSILON < shape.cpu || ledger.freeMemoryMiB[a] < shape.memoryMiB) return false;
      if (spec.count === 0) return true;
      const group = ledger.groups[a][g];
      return group.indices.length - group.taken >= spec.count;
    };
    const agents = agentsFor(ledger, shape, spec);
    const base = queueFor(ledger, shape, spec, agents, agents.map((a) => ledger.bids[a].startLatencyMs), fits);
    return { spec, base, byFunction: new Map(), fits };
  });
  return { shape, slots, failure: undefined };
};

/** The queue of agents with a per-function start latency for `functionId`, built on first use. */
const warmQueue = (ledger: AuctionLedger, shape: DemandShape, slot: SpecCandidates, functionId: string): CandidateQueue | undefined => {
  if (slot.byFunction.has(functionId)) return slot.byFunction.get(functionId);
  const hints = ledger.hints.get(functionId);
  let queue: CandidateQueue | undefined;
  if (hints !== undefined) {
    const latency = hints.agents.map((a, i) => Math.min(ledger.bids[a].startLatencyMs, hints.latencyMs[i]));
    queue = queueFor(ledger, shape, slot.spec, hints.agents, latency, slot.fits);
  }
  slot.byFunction.set(functionId, queue);
  return queue;
};

const assign = (ledger: AuctionLedger, shape: DemandShape, slot: SpecCandidates, demandId: string, agent: number, g: number): Assignment => {
  const bid: Bid = ledger.bids[agent];
  ledger.freeCpu[agent] -= shape.cpu;
  ledger.freeMemoryMiB[agent] -= shape.memoryMiB;
  ledger.starts[agent]++;
  let gpuIndices = NO_GPU_INDICES;
  let gpuType: string | undefined;
  if (slot.spec.count > 0) {
    const group = ledger.groups[agent][g];
    gpuIndices = group.indices.slice(group.taken, group.taken + slot.spec.count);
    group.taken += slot.spec.count;
    gpuType = group.type;
  }
  const pricePerSecond = containerShare(bid, shape.cpu, shape.memoryMiB, slot.spec.count) * bid.pricePerSecond;
  return { demandId, agentId: bid.agentId, gpuIndices, gpuType, pricePerSecond };
};

/** The winner for one demand, or `undefined` when no agent can take it now. */
const placeDemand = (ledger: AuctionLedger, state: ShapeState, d: Demand): Assignment | undefined => {
  for (const slot of state.slots) {
    // An agent with a per-function latency sits in both queues; its warm entry is never worse.
    let queue = slot.base;
    let best = queue.bestFeasible(slot.fits);
    const warm = warmQueue(ledger, state.shape, slot, d.functionId);
    const hot = warm === undefined ? -1 : warm.bestFeasible(slot.fits);
    if (warm !== undefined && hot >= 0 && (best < 0 || precedes(warm.keyOf(hot), queue.keyOf(best)))) {
      queue = warm;
      best = hot;
    }
    if (best >= 0) return assign(ledger, state.shape, slot, d.demandId, queue.agentOf(best), queue.groupOf(best));
  }
  return undefined;
};

const resolveWeights = (opts: ClearAuctionOptions) => {
  const maxStartsPerAgent = opts.maxStartsPerAgent ?? DEFAULT_MAX_STARTS_PER_AGENT;
  if (!Number.isInteger(maxStartsPerAgent) || maxStartsPerAgent < 0) throw new RangeError(`maxStartsPerAgent must be an integer >= 0, got ${maxStartsPerAgent}`);
  const latencyPriceUsdPerS = opts.latencyPriceUsdPerS ?? LATENCY_PRICE_USD_PER_S;
  const packingDiscount = opts.packingDiscount ?? PACKING_DISCOUNT;
  if (!(latencyPriceUsdPerS >= 0 && Number.isFinite(latencyPriceUsdPerS))) throw new RangeError(`latencyPriceUsdPerS must be finite and >= 0, got ${latencyPriceUsdPerS}`);
  if (!(packingDiscount > 0 && packingDiscount <= 1)) throw new RangeError(`packingDiscount must be in (0, 1], got ${packingDiscount}`);
  return { maxStartsPerAgent, latencyPriceUsdPerS, packingDiscount, reputation: opts.reputation };
};

/**
 * Clear one auction: give each demand to one agent's standing bid, or say why none can take it.
 *
 * The rule, applied to the demands one at a time in the order given (callers put urgent work
 * first), each seeing the capacity left by the ones before it:
 *
 * 1. Bids: one per agent (an agent's last bid counts); bids with a non-finite or negative
 *    price, capacity or latency are ignored.
 * 2. An agent is feasible for a demand when its cloud is among `demand.clouds` (if any; cloud
 *    names and GPU types compare case-insensitively), its `cloudRegion` among
 *    `demand.cloudRegions` (if any, exactly), it has been given fewer than `maxStartsPerAgent`
 *    containers in this auction, and its remaining free CPU, memory and GPUs hold the demand.
 * 3. GPU specs are tried in the demand's order: a later spec is used only when no agent is
 *    feasible for any earlier one (so `["H100:2", "A100-80GB:2"]` takes an A100 pair only
 *    when no H100 pair is free, however cheap the A100s). `TYPE:N` needs N free GPUs of that
 *    type on one agent; `any:N` needs N free GPUs of one type (the agent's first such type, in
 *    the order its bid lists free GPUs). A CPU-only demand (`gpu: []`) may land on any node,
 *    GPU nodes included, and is given no GPU. The lowest-numbered free indices of that type are taken.
 * 4. Among the feasible agents for that spec, the lowest score wins:
 *    `score = (share × pricePerSecond × packing + latencyPrice × expectedStartS) / reputation`,
 *    where `share` is the largest of cpu/totalCpu, memory/totalMemory, gpus/totalGpus;
 *    `packing` is `packingDiscount` if the bid reports running containers, else 1;
 *    `expectedStartS` is the lower of the bid's `startLatencyMs` and its per-function latency
 *    for `demand.functionId`, in seconds; `reputation` is `opts.reputation(agentId)` clamped
 *    to [1e-6, 1] (default 1). Scores never change during an auction; a node keeps winning
 *    work until it is full or out of starts, which is what packs work onto few nodes.
 * 5. Equal scores go to the agent with the least free capacity as bid (free GPU count, then
 *    CPU, then memory), then to the smaller agentId (code-unit order).
 * 6. The winner's CPU, memory and GPUs are consumed; the price charged is `share ×
 *    pricePerSecond` (no packing discount or reputation: those only choose).
 *
 * Demands no agent can take are returned with a reason (see `explainUnplaced`). Runs in about
 * O((D + A·S) log A) for D demands, A agents and S distinct demand shapes, not O(D·A).
 *
 * @example
 * ```ts
 * const { assignments, unplaced } = clearAuction(
 *   [{ demandId: "d1", functionId: "f", cpu: 1, memoryMiB: 1024, gpu: ["H100:1"], clouds: [], cloudRegions: [] }],
 *   bids,
 *   { reputation: (agentId) => trust.get(agentId) ?? 1 },
 * );
 * ```
 */
export const clearAuction = (demands: ReadonlyArray<Demand>, bids: ReadonlyArray<Bid>, opts: ClearAuctionOptions = {}): AuctionResult => {
  const weights = resolveWeights(opts);
  const ledger = openLedger(bids, new Set(demands.map((d) => d.functionId)), weights);
  const shapes = new Map<string, ShapeState>();
  const assignments: Assignment[] = [];
  const unplaced: Unplaced[] = [];
  for (const d of demands) {
    const key = shapeKey(d);
    let state = shapes.get(key);
    if (state === undefined) {
      state = openShape(ledger, d);
      shapes.set(key, state);
    }
    const won = state.failure === undefined ? placeDemand(ledger, state, d) : undefined;
    if (won !== undefined) {
      assignments.push(won);
      continue;
    }
    state.failure ??= explainUnplaced(ledger, state.shape);
    unplaced.push({ demandId: d.demandId, reason: state.failure });
  }
  return { assignments, unplaced };
};
