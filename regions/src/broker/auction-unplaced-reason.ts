// Why a demand found no agent, checked from the most basic cause to the most transient, so the
// reason names what the user (or the fleet) must change.
import type { Demand } from "./auction-types.ts";
import { ANY_GPU, type GpuSpec } from "./auction-gpu-spec.ts";
import { CPU_EPSILON, type AuctionLedger } from "./auction-ledger.ts";

/** What every demand of one shape asks for, with clouds lower-cased for matching. */
export interface DemandShape {
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly specs: ReadonlyArray<GpuSpec>;
  /** Lower-cased; empty for any cloud. */
  readonly clouds: ReadonlyArray<string>;
  readonly cloudRegions: ReadonlyArray<string>;
}

/**
 * Why a demand cannot be read at all, or `undefined` when it can.
 *
 * @example
 * ```ts
 * invalidDemandReason({ ...demand, gpu: ["H100:0"] }); // 'invalid gpu spec "H100:0": expected TYPE or TYPE:COUNT with COUNT >= 1'
 * ```
 */
export const invalidDemandReason = (d: Demand, specs: ReadonlyArray<GpuSpec | undefined>): string | undefined => {
  if (!(Number.isFinite(d.cpu) && d.cpu >= 0 && Number.isFinite(d.memoryMiB) && d.memoryMiB >= 0)) {
    return `invalid resources ${d.cpu} CPU / ${d.memoryMiB} MiB: both must be finite and not negative`;
  }
  const bad = specs.findIndex((s) => s === undefined);
  return bad < 0 ? undefined : `invalid gpu spec ${JSON.stringify(d.gpu[bad])}: expected TYPE or TYPE:COUNT with COUNT >= 1`;
};

/**
 * Free GPUs the agent has for `spec` (the largest group for `any`); `bidTime` counts the GPUs as
 * bid, otherwise those not yet assigned in this auction.
 *
 * @example
 * ```ts
 * freeGpusFor(ledger, agent, { key: "h100", count: 2, label: "H100:2" }, false) >= 2;
 * ```
 */
export const freeGpusFor = (ledger: AuctionLedger, agent: number, spec: GpuSpec, bidTime: boolean): number => {
  let best = 0;
  for (const g of ledger.groups[agent]) {
    if (spec.key !== ANY_GPU && g.key !== spec.key) continue;
    best = Math.max(best, g.indices.length - (bidTime ? 0 : g.taken));
  }
  return best;
};

const hasRoom = (ledger: AuctionLedger, shape: DemandShape, agent: number, bidTime: boolean): boolean => {
  const cpu = bidTime ? ledger.bids[agent].free.cpu : ledger.freeCpu[agent];
  const mem = bidTime ? ledger.bids[agent].free.memoryMiB : ledger.freeMemoryMiB[agent];
  if (cpu + CPU_EPSILON < shape.cpu || mem < shape.memoryMiB) return false;
  return shape.specs.length === 0 || shape.specs.some((s) => freeGpusFor(ledger, agent, s, bidTime) >= s.count);
};

/**
 * The words for what a shape asks, as reasons quote it.
 *
 * @example
 * ```ts
 * describeNeed(shape); // "4 CPU / 8192 MiB with gpu H100:2 or A100-80GB:2"
 * ```
 */
export const describeNeed = (shape: DemandShape): string =>
  `${shape.cpu} CPU / ${shape.memoryMiB} MiB` + (shape.specs.length > 0 ? ` with gpu ${shape.specs.map((s) => s.label).join(" or ")}` : "");

/**
 * Why no agent of the ledger can take a demand of `shape` now. Checked in order: no bids at
 * all; no bid from an allowed cloud; none from an allowed cloud region; no allowed agent offers
 * any acceptable GPU spec; none had the CPU and memory free (alongside such GPUs) when it bid;
 * every agent with room already got its starts for this auction; earlier demands took the rest.
 * Once a shape fails, later demands of it fail for the same reason (capacity only shrinks).
 *
 * @example
 * ```ts
 * explainUnplaced(ledger, shape); // "no agent offers gpu H100:8"
 * ```
 */
export const explainUnplaced = (ledger: AuctionLedger, shape: DemandShape): string => {
  if (ledger.count === 0) return "no agent bid in this auction";
  let eligible: number[] = [];
  for (let a = 0; a < ledger.count; a++) if (shape.clouds.length === 0 || shape.clouds.includes(ledger.cloudKey[a])) eligible.push(a);
  if (eligible.length === 0) return `only clouds ${shape.clouds.join(", ")} allowed, and no agent bid from them`;
  if (shape.cloudRegions.length > 0) {
    eligible = eligible.filter((a) => shape.cloudRegions.includes(ledger.bids[a].cloudRegion));
    if (eligible.length === 0) return `only cloud regions ${shape.cloudRegions.join(", ")} allowed, and no agent bid from them`;
  }
  const need = describeNeed(shape);
  if (shape.specs.length > 0 && !eligible.some((a) => shape.specs.some((s) => freeGpusFor(ledger, a, s, true) >= s.count))) {
    return `no agent offers gpu ${shape.specs.map((s) => s.label).join(" or ")}`;
  }
  if (!eligible.some((a) => hasRoom(ledger, shape, a, true))) return `no capacity free for ${need}`;
  const max = ledger.weights.maxStartsPerAgent;
  if (eligible.some((a) => ledger.starts[a] >= max && hasRoom(ledger, shape, a, false))) {
    return `every agent with room for ${need} already got ${max} starts in this auction`;
  }
  return `no capacity left for ${need}: earlier demands in this auction took it`;
};
