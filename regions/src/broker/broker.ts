import { newId, type FunctionRow, type ResolvedFunctionOptions } from "@ferry/core";
import type { AgentBid, CallForBids } from "@ferry/core/node";
import type { ConnectedAgent, Fleet, Placed } from "../agents/fleet.ts";
import type { Assignment, Bid, Demand, Unplaced } from "./auction-types.ts";
import { clearAuction } from "./clear-auction.ts";
import type { Reputation } from "./reputation.ts";
import type { ContainerPreparation } from "../secrets/container-start.ts";

/** How long the broker waits for bids; an agent that has not answered by then sits this auction out. */
export const AUCTION_TIMEOUT_MS = 250;

/** Containers one function wants started, with extra environment per container (cluster ranks). */
export interface PlacementRequest {
  readonly fn: FunctionRow;
  readonly options: ResolvedFunctionOptions;
  readonly count: number;
  /** Only these agents may bid (gang placement on one fabric); all agents when left out. */
  readonly agentIds?: ReadonlySet<string>;
  /** Start all `count` or none (a gang). */
  readonly allOrNothing?: boolean;
}

/** The environment for the container of rank `rank` among a request's assignments (cluster ranks). */
export type PlacementEnv = (rank: number, assignments: ReadonlyArray<Assignment>, agentOf: (agentId: string) => ConnectedAgent | undefined) => Record<string, string>;

/** What became of a placement request. */
export interface PlacementResult {
  readonly started: ReadonlyArray<{ readonly containerId: string; readonly agentId: string; readonly gpuIndices: ReadonlyArray<number> }>;
  readonly unplaced: ReadonlyArray<string>;
}

export interface BrokerDeps {
  readonly fleet: Fleet;
  readonly reputation: Reputation;
  readonly bundleUrl: () => string;
  /** Each start's secrets (decrypted into its environment) and volume ids; none when left out. */
  readonly prepareStart?: (fn: FunctionRow) => Promise<ContainerPreparation>;
  /** The public API URL and a token of the workspace, for containers' API bridge; none when left out. */
  readonly containerApi?: (workspaceId: string) => Promise<ContainerApi>;
}

/** What a container's agent needs to call the public API for user code ("" when not offered). */
export interface ContainerApi { readonly apiUrl: string; readonly apiToken: string }
const NO_CONTAINER_API: ContainerApi = { apiUrl: "", apiToken: "" };

interface Pending {
  readonly request: PlacementRequest;
  readonly resolve: (r: PlacementResult) => void;
  readonly env: PlacementEnv;
}

/**
 * The region's capacity broker: turns container demand into auctions. Requests that arrive while
 * an auction runs are cleared together in the next, so each agent's capacity is offered once per
 * round and never promised twice. Every connected agent gets a call for bids over its gRPC
 * stream; the bids are capped by what the region itself has placed on each agent (a lagging or
 * lying bid cannot overbook a node), then cleared by `clearAuction`; each winner is sent its start.
 *
 * @example
 * ```ts
 * const broker = new Broker({ fleet, reputation, bundleUrl: () => httpUrl });
 * const { started } = await broker.place({ fn, options, count: 2 });
 * ```
 */
export class Broker {
  private readonly queue: Pending[] = [];
  private running = false;
  private readonly deps: BrokerDeps;

  constructor(deps: BrokerDeps) {
    this.deps = deps;
  }

  /** Start `count` containers of a function on the agents that win the next auction. */
  place(request: PlacementRequest, env: PlacementEnv = () => ({})): Promise<PlacementResult> {
    if (request.count <= 0) return Promise.resolve({ started: [], unplaced: [] });
    return new Promise((resolve) => {
      this.queue.push({ request, resolve, env });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        // Requests restricted to some agents (gangs) clear alone; the rest clear together.
        const first = this.queue[0]!;
        const round = first.request.agentIds ? [this.queue.shift()!] : this.takeUnrestricted();
        await this.runAuction(round).catch((e: unknown) => {
          for (const p of round) p.resolve({ started: [], unplaced: [`auction failed: ${String(e)}`] });
        });
      }
    } finally {
      this.running = false;
    }
  }

  private takeUnrestricted(): Pending[] {
    const taken = this.queue.filter((p) => !p.request.agentIds);
    for (const p of taken) this.queue.splice(this.queue.indexOf(p), 1);
    return taken;
  }

  private async runAuction(round: ReadonlyArray<Pending>): Promise<void> {
    const auctionId = newId("au", 10);
    const demands: Demand[] = [];
    const owner = new Map<string, Pending>();
    for (const p of round) {
      for (let i = 0; i < p.request.count; i++) {
        const demandId = `${auctionId}-${demands.length}`;
        owner.set(demandId, p);
        demands.push({
          demandId, functionId: p.request.fn.id, cpu: p.request.options.cpu, memoryMiB: p.request.options.memory,
          gpu: p.request.options.gpu, clouds: p.request.options.clouds, cloudRegions: [],
        });
      }
    }
    const allowed = round[0]?.request.agentIds;
    const agents = [...this.deps.fleet.agents.values()].filter((a) => !allowed || allowed.has(a.register.agentId));
    const call: CallForBids = {
      auctionId,
      demands: round.map((p) => ({
        demandId: "", functionId: p.request.fn.id, bundleHash: p.request.fn.bundleHash, cpu: p.request.options.cpu,
        memoryMib: p.request.options.memory, gpu: [...p.request.options.gpu],
      })),
    };
    const answers = await Promise.all(agents.map((a) => this.askForBid(a, call)));
    const placed = this.deps.fleet.placedByAgent();
    const bids = answers.flatMap((answer, i) => (answer ? [capByRegionView(agents[i]!, answer, placed.get(agents[i]!.register.agentId))] : []));
    const { assignments, unplaced } = clearAuction(demands, bids, { reputation: (id) => this.deps.reputation.of(id) });

    const won = new Map<Pending, Assignment[]>(round.map((p) => [p, []]));
    const reasons = new Map<Pending, string[]>(round.map((p) => [p, []]));
    for (const a of assignments) won.get(owner.get(a.demandId)!)!.push(a);
    for (const u of unplaced as ReadonlyArray<Unplaced>) reasons.get(owner.get(u.demandId)!)!.push(u.reason);
    for (const p of round) {
      let list = won.get(p)!;
      if (p.request.allOrNothing && list.length < p.request.count) {
        reasons.get(p)!.unshift(`only ${list.length} of ${p.request.count} could be placed together`);
        list = [];
      }
      const started: Array<PlacementResult["started"][number]> = [];
      const prepared = list.length > 0 && this.deps.prepareStart ? await this.deps.prepareStart(p.request.fn) : { env: {}, volumes: {} };
      const api = list.length > 0 && this.deps.containerApi ? await this.deps.containerApi(p.request.fn.workspaceId).catch(() => NO_CONTAINER_API) : NO_CONTAINER_API;
      list.forEach((a, rank) => {
        const agent = this.deps.fleet.agents.get(a.agentId);
        if (!agent) {
          reasons.get(p)!.push(`agent ${a.agentId} left during the auction`);
          return;
        }
        const env = { ...prepared.env, ...p.env(rank, list, (id) => this.deps.fleet.agents.get(id)) };
        started.push({ containerId: this.start(p, a, agent, env, prepared, api), agentId: a.agentId, gpuIndices: a.gpuIndices });
      });
      p.resolve({ started, unplaced: reasons.get(p)! });
    }
  }

  private askForBid(agent: ConnectedAgent, call: CallForBids): Promise<AgentBid | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        agent.bidWaiters.delete(call.auctionId);
        resolve(undefined);
      }, AUCTION_TIMEOUT_MS);
      agent.bidWaiters.set(call.auctionId, (bid) => {
        clearTimeout(timer);
        resolve(bid);
      });
      agent.send({ body: "callForBids", callForBids: call });
    });
  }

  private start(p: Pending, a: Assignment, agent: ConnectedAgent, env: Record<string, string>, prepared: ContainerPreparation, api: ContainerApi): string {
    const { fn, options } = p.request;
    const containerId = newId("ct", 12);
    this.deps.fleet.track({
      containerId, functionId: fn.id, agentId: a.agentId, cpu: options.cpu, memoryMiB: options.memory,
      gpuIndices: a.gpuIndices, gpuType: a.gpuType ?? "", cloud: agent.register.cloud, pricePerSecond: a.pricePerSecond,
      workspaceId: fn.workspaceId, appId: fn.appId, appName: fn.appName, functionName: fn.name,
      ...(env.FERRY_CLUSTER_ID ? { clusterId: env.FERRY_CLUSTER_ID, rank: Number(env.RANK) } : {}),
      state: "starting", startedAt: Date.now(),
    });
    agent.send({
      body: "start",
      start: {
        containerId, functionId: fn.id, appId: fn.appId, appName: fn.appName, functionName: fn.name,
        bundleHash: fn.bundleHash, optionsJson: JSON.stringify(options), bundleUrl: this.deps.bundleUrl(),
        gpuIndices: [...a.gpuIndices], env, cpu: options.cpu, memoryMib: options.memory,
        volumes: { ...prepared.volumes }, startError: prepared.error ?? "",
        apiUrl: api.apiUrl, apiToken: api.apiToken,
      },
    });
    return containerId;
  }
}

/** An agent's bid, never offering more than the region's own ledger says is free there. */
const capByRegionView = (agent: ConnectedAgent, bid: AgentBid, placed: Placed | undefined): Bid => {
  const r = agent.register;
  return {
    agentId: r.agentId,
    pricePerSecond: bid.pricePerHour / 3600,
    free: {
      cpu: Math.min(bid.freeCpu, r.capacity.cpu - (placed?.cpu ?? 0)),
      memoryMiB: Math.min(bid.freeMemoryMib, r.capacity.memoryMib - (placed?.memoryMiB ?? 0)),
      gpus: bid.freeGpuIndices
        .filter((i) => !placed?.gpuIndices.has(i) && i < r.capacity.gpus.length)
        .map((i) => ({ index: i, type: r.capacity.gpus[i] ?? "" })),
    },
    total: { cpu: r.capacity.cpu, memoryMiB: r.capacity.memoryMib, gpus: r.capacity.gpus.length },
    startLatencyMs: bid.baseStartLatencyMs,
    startLatencyMsByFunction: new Map(Object.entries(bid.startLatencyMsByFunction)),
    cloud: r.cloud,
    cloudRegion: r.cloudRegion,
    zone: r.zone,
    rdmaFabricId: r.fabric,
    runningContainers: Math.max(bid.runningContainers, placed?.containers ?? 0),
  };
};
