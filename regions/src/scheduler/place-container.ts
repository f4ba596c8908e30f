/** An agent as the placer sees it. */
export interface AgentSlot {
  readonly agentId: string;
  readonly freeCpu: number;
  readonly freeMemoryMiB: number;
  readonly freeGpus: ReadonlyArray<string>;
  readonly startingContainers: number;
  readonly totalCpu: number;
}

/** What one container asks for. */
export interface ContainerRequest {
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Acceptable GPU types in order of preference; empty for CPU-only. "any" takes any GPU. */
  readonly gpu: ReadonlyArray<string>;
}

/** Containers one agent may be starting at once: bounds start-up storms on small nodes. */
export const MAX_STARTING_PER_AGENT = 4;

const parseGpu = (spec: string): { type: string; count: number } => {
  const [type, count] = spec.split(":");
  return { type, count: count ? Number(count) : 1 };
};

const gpuFits = (free: ReadonlyArray<string>, gpu: ReadonlyArray<string>): boolean =>
  gpu.length === 0 || gpu.some((spec) => {
    const { type, count } = parseGpu(spec);
    return free.filter((g) => type === "any" || g.toLowerCase() === type.toLowerCase()).length >= count;
  });

/**
 * Choose the agent for one container: among agents with room, the busiest (least free CPU as a
 * share of its total), so work packs onto few nodes and idle ones can drain. `undefined` when
 * none has room.
 *
 * @example
 * ```ts
 * placeContainer(agents, { cpu: 0.125, memoryMiB: 128, gpu: [] })?.agentId;
 * ```
 */
export const placeContainer = (agents: ReadonlyArray<AgentSlot>, request: ContainerRequest): AgentSlot | undefined => {
  let best: AgentSlot | undefined;
  let bestFree = Infinity;
  for (const a of agents) {
    if (a.startingContainers >= MAX_STARTING_PER_AGENT) continue;
    if (a.freeCpu + 1e-9 < request.cpu || a.freeMemoryMiB < request.memoryMiB) continue;
    if (!gpuFits(a.freeGpus, request.gpu)) continue;
    const freeShare = a.freeCpu / a.totalCpu;
    if (freeShare < bestFree) {
      best = a;
      bestFree = freeShare;
    }
  }
  return best;
};

/** Why nothing fits, for the error a caller sees when no agent could ever take the container. */
export const explainNoFit = (agents: ReadonlyArray<AgentSlot & { readonly totalMemoryMiB: number; readonly allGpus: ReadonlyArray<string> }>, request: ContainerRequest): string | undefined => {
  if (agents.length === 0) return "no agent is connected to this region";
  const couldEver = agents.some((a) => a.totalCpu >= request.cpu && a.totalMemoryMiB >= request.memoryMiB && gpuFits(a.allGpus, request.gpu));
  if (couldEver) return undefined;
  if (request.gpu.length > 0 && !agents.some((a) => gpuFits(a.allGpus, request.gpu))) return `no agent in this region offers gpu ${request.gpu.join(" or ")}`;
  return `no agent in this region has ${request.cpu} CPU and ${request.memoryMiB} MiB`;
};
