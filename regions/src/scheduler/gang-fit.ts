import type { ContainerRequest } from "./place-container.ts";

/** An agent as gang placement sees it: its whole and its free capacity, and its RDMA fabric. */
export interface GangNode {
  readonly agentId: string;
  readonly fabric: string;
  readonly totalCpu: number;
  readonly totalMemoryMiB: number;
  readonly allGpus: ReadonlyArray<string>;
  readonly freeCpu: number;
  readonly freeMemoryMiB: number;
  readonly freeGpus: ReadonlyArray<string>;
}

/** What a cluster asks for: `size` containers of `request`, on one fabric when `rdma`. */
export interface GangRequest {
  readonly request: ContainerRequest;
  readonly size: number;
  readonly rdma: boolean;
}

/** The group of agents a cluster may span: one fabric with `rdma`, the whole region without. */
const groupKey = (node: GangNode, rdma: boolean): string | undefined => (rdma ? (node.fabric === "" ? undefined : node.fabric) : "region");

/**
 * How many containers of `request` fit on a node with `cpu`, `memoryMiB` and `gpus` (per-device
 * types), taking the first GPU spec of the request's list that fits at all.
 */
export const containersFitting = (request: ContainerRequest, cpu: number, memoryMiB: number, gpus: ReadonlyArray<string>): number => {
  const byCpu = Math.floor((cpu + 1e-9) / request.cpu);
  const byMemory = Math.floor(memoryMiB / request.memoryMiB);
  if (request.gpu.length === 0) return Math.max(0, Math.min(byCpu, byMemory));
  let byGpu = 0;
  for (const spec of request.gpu) {
    const [type = "", countText] = spec.split(":");
    const count = countText ? Number(countText) : 1;
    const counts = new Map<string, number>();
    for (const g of gpus) counts.set(g.toLowerCase(), (counts.get(g.toLowerCase()) ?? 0) + 1);
    const have = type.toLowerCase() === "any" ? Math.max(0, ...counts.values()) : (counts.get(type.toLowerCase()) ?? 0);
    byGpu = Math.floor(have / count);
    if (byGpu > 0) break;
  }
  return Math.max(0, Math.min(byCpu, byMemory, byGpu));
};

/**
 * The groups of agents (fabrics, or the whole region without `rdma`) that have room for the whole
 * cluster now, roomiest first. A cluster is placed within one group or not at all.
 *
 * @example
 * ```ts
 * gangGroupsWithRoom(nodes, { request, size: 4, rdma: true })[0]; // agent ids of the best fabric
 * ```
 */
export const gangGroupsWithRoom = (nodes: ReadonlyArray<GangNode>, gang: GangRequest): ReadonlyArray<ReadonlySet<string>> => {
  const groups = new Map<string, { ids: Set<string>; room: number }>();
  for (const n of nodes) {
    const key = groupKey(n, gang.rdma);
    if (key === undefined) continue;
    const g = groups.get(key) ?? { ids: new Set<string>(), room: 0 };
    g.ids.add(n.agentId);
    g.room += containersFitting(gang.request, n.freeCpu, n.freeMemoryMiB, n.freeGpus);
    groups.set(key, g);
  }
  return [...groups.values()].filter((g) => g.room >= gang.size).sort((a, b) => b.room - a.room).map((g) => g.ids);
};

/**
 * Why a cluster can never be placed in this region (no group could hold it even empty), or
 * `undefined` when some group could, now or once busy containers end.
 */
export const explainGangNoFit = (nodes: ReadonlyArray<GangNode>, gang: GangRequest): string | undefined => {
  const what = `a cluster of ${gang.size} × ${gang.request.gpu.join(" or ") || `${gang.request.cpu} CPU`}`;
  const rooms = new Map<string, number>();
  for (const n of nodes) {
    const key = groupKey(n, gang.rdma);
    if (key === undefined) continue;
    rooms.set(key, (rooms.get(key) ?? 0) + containersFitting(gang.request, n.totalCpu, n.totalMemoryMiB, n.allGpus));
  }
  if ([...rooms.values()].some((room) => room >= gang.size)) return undefined;
  if (gang.rdma && rooms.size === 0) return `${what} needs RDMA, and no agent in this region is on an RDMA fabric`;
  const largest = [...rooms.entries()].sort((a, b) => b[1] - a[1])[0];
  const where = gang.rdma ? `the largest RDMA fabric${largest ? ` (${largest[0]})` : ""} holds ${largest?.[1] ?? 0}; a cluster is never split across fabrics or regions` : `this region holds ${largest?.[1] ?? 0}`;
  return `${what} cannot be placed: ${where}`;
};
