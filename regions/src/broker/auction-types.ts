// The values an auction clears: what containers need (demands), what agents offer (bids), and
// the result (assignments, and a reason for every demand left unplaced).

/**
 * One container the region needs started.
 *
 * @example
 * ```ts
 * const demand: Demand = {
 *   demandId: "d-1", functionId: "fn-embed", cpu: 4, memoryMiB: 16_384,
 *   gpu: ["H100:2", "A100-80GB:2"], clouds: [], cloudRegions: [],
 * };
 * ```
 */
export interface Demand {
  readonly demandId: string;
  /** The function the container runs; agents report lower start latencies for functions they have warm or cached. */
  readonly functionId: string;
  /** CPU cores (fractions allowed). */
  readonly cpu: number;
  readonly memoryMiB: number;
  /**
   * Acceptable GPU specs in preference order, `TYPE` or `TYPE:COUNT` (`"H100:2"`, `"A100-80GB"`);
   * `"any"` / `"any:N"` takes N GPUs of one type, whatever it is; `[]` for a CPU-only container.
   */
  readonly gpu: ReadonlyArray<string>;
  /** Clouds the container may run in (`"runpod"`, `"lambda"`); empty for any. */
  readonly clouds: ReadonlyArray<string>;
  /** Cloud regions the container may run in (`"us-east-1"`); empty for any. */
  readonly cloudRegions: ReadonlyArray<string>;
}

/**
 * A free GPU on an agent's node: its device index (as `nvidia-smi` numbers it) and its type.
 *
 * @example
 * ```ts
 * const gpu: FreeGpu = { index: 3, type: "H100" };
 * ```
 */
export interface FreeGpu {
  readonly index: number;
  readonly type: string;
}

/**
 * An agent's standing bid: one per agent per auction, covering every demand at once. Start
 * latency is a cold base plus, per function, the lower latency the agent expects because that
 * function's image or bundle is cached there or a warm container of it is idle.
 *
 * @example
 * ```ts
 * const bid: Bid = {
 *   agentId: "agent-7", pricePerSecond: 24.48 / 3600,
 *   free: { cpu: 200, memoryMiB: 1_900_000, gpus: [{ index: 0, type: "H100" }, { index: 1, type: "H100" }] },
 *   total: { cpu: 208, memoryMiB: 1_966_080, gpus: 8 },
 *   startLatencyMs: 20_000, startLatencyMsByFunction: new Map([["fn-embed", 400]]),
 *   cloud: "lambda", cloudRegion: "us-east-1", zone: "us-east-1a", rdmaFabricId: "",
 *   runningContainers: 3,
 * };
 * ```
 */
export interface Bid {
  readonly agentId: string;
  /** USD per second for the whole node, from its cloud's price list. */
  readonly pricePerSecond: number;
  /** Capacity free for new containers now. */
  readonly free: {
    readonly cpu: number;
    readonly memoryMiB: number;
    readonly gpus: ReadonlyArray<FreeGpu>;
  };
  /** The node's whole capacity (a container's share of the node is measured against it). */
  readonly total: {
    readonly cpu: number;
    readonly memoryMiB: number;
    readonly gpus: number;
  };
  /** Expected start latency of a container whose image and bundle are not on the node. */
  readonly startLatencyMs: number;
  /** functionId → lower expected start latency (image/bundle cached, or a warm container idle). */
  readonly startLatencyMsByFunction?: ReadonlyMap<string, number>;
  readonly cloud: string;
  readonly cloudRegion: string;
  readonly zone: string;
  /** RDMA fabric the node is on, `""` for none; carried for gang placement, unused when clearing. */
  readonly rdmaFabricId: string;
  /** Containers already running on the node: busy nodes are preferred so idle ones can drain. */
  readonly runningContainers: number;
}

/**
 * One demand won by one agent.
 *
 * @example
 * ```ts
 * const a: Assignment = { demandId: "d-1", agentId: "agent-7", gpuIndices: [0, 1], gpuType: "H100", pricePerSecond: 0.00085 };
 * ```
 */
export interface Assignment {
  readonly demandId: string;
  readonly agentId: string;
  /** Taken exclusively from the agent's free GPUs: no other assignment of the auction holds them. */
  readonly gpuIndices: ReadonlyArray<number>;
  /** The GPU type as the agent reported it; `undefined` for a CPU-only container. */
  readonly gpuType: string | undefined;
  /** USD per second charged: the container's share of the node times the node's price. */
  readonly pricePerSecond: number;
}

/**
 * A demand no agent could take, and why, in words a user can act on.
 *
 * @example
 * ```ts
 * const u: Unplaced = { demandId: "d-9", reason: "no agent offers gpu H100:8" };
 * ```
 */
export interface Unplaced {
  readonly demandId: string;
  readonly reason: string;
}

/**
 * The outcome of one auction: assignments in demand order, and every other demand with a reason.
 *
 * @example
 * ```ts
 * const { assignments, unplaced } = clearAuction(demands, bids);
 * ```
 */
export interface AuctionResult {
  readonly assignments: ReadonlyArray<Assignment>;
  readonly unplaced: ReadonlyArray<Unplaced>;
}

/**
 * Tuning for one auction; every field has a default.
 *
 * @example
 * ```ts
 * clearAuction(demands, bids, { reputation: (id) => reputations.get(id) ?? 1, maxStartsPerAgent: 8 });
 * ```
 */
export interface ClearAuctionOptions {
  /** Trust in (0, 1] per agent; an agent's score is divided by it. Default: 1 for every agent. */
  readonly reputation?: (agentId: string) => number;
  /** Containers one agent may be given per auction (start-up storms). Default `DEFAULT_MAX_STARTS_PER_AGENT`. */
  readonly maxStartsPerAgent?: number;
  /** USD per second of node price that one second of expected start latency is worth. Default `LATENCY_PRICE_USD_PER_S`. */
  readonly latencyPriceUsdPerS?: number;
  /** Multiplier on the share cost of nodes already running containers. Default `PACKING_DISCOUNT`. */
  readonly packingDiscount?: number;
}
