// Auction clearing throughput: `clearAuction` over simulated agents whose node shapes and prices
// come from the real cloud price catalogs, against the naive per-demand scan (`placeContainer`
// over every agent) measured in the same run on a subset of the demands.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse/sync";
import { finish, intArg, log, median, round } from "./harness.ts";
import type { AuctionResult, Bid, Demand } from "../regions/src/broker/auction-types.ts";
import { clearAuction } from "../regions/src/broker/clear-auction.ts";
import { placeContainer, type AgentSlot } from "../regions/src/scheduler/place-container.ts";

/** Where the catalogs are: the repo's copy first, the shared data folder otherwise. */
const CATALOG_DIRS = [fileURLToPath(new URL("../regions/data/gpu-catalog/", import.meta.url)), "/work/shared/data/gpu-catalog"];
const CPU_NODE_SHARE = 0.35;
const FUNCTIONS = 1_000;
const CPU_SHAPES: ReadonlyArray<readonly [number, number]> = [[0.25, 256], [0.5, 512], [1, 1024], [1, 4096], [2, 4096], [4, 8192], [8, 16_384]];
const GPU_COUNTS = [2, 2, 2, 4, 4, 8];

/** A node type from a catalog row: one price-list entry of one cloud in one region. */
interface NodeType {
  readonly cloud: string;
  readonly gpuType: string;
  readonly gpus: number;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly pricePerHour: number;
  readonly region: string;
  readonly zone: string;
}

/** Every priced node type in `<cloud>-vms.csv` files, columns read by header name. */
const readCatalog = (dir: string): NodeType[] => {
  const out: NodeType[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith("-vms.csv")).sort()) {
    const [header = [], ...rows] = parse(readFileSync(join(dir, file), "utf8"), { skip_empty_lines: true, bom: true, relax_column_count: true }) as string[][];
    const col = (name: string) => header.indexOf(name);
    const [type, count, cpus, mem, price, region, zone] = ["AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price", "Region", "AvailabilityZone"].map(col);
    for (const r of rows) {
      if (r.length !== header.length) continue;
      const node: NodeType = {
        cloud: file.slice(0, -"-vms.csv".length), gpuType: r[type].trim(), gpus: Number(r[count]) || 0,
        cpu: Number(r[cpus]), memoryMiB: Math.round(Number(r[mem]) * 1024), pricePerHour: Number(r[price]),
        region: r[region], zone: zone >= 0 ? r[zone] : `${r[region]}-a`,
      };
      if (node.cpu > 0 && node.memoryMiB > 0 && node.pricePerHour > 0 && (node.gpus === 0) === (node.gpuType === "")) out.push(node);
    }
  }
  return out;
};

/** Mulberry32: seeded, so every run simulates the same fleet and the same demands. */
const prng = (seed: number) => {
  let s = seed >>> 0;
  return (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

interface Simulation {
  readonly bids: Bid[];
  readonly demands: Demand[];
}

/** The fleet and the burst of demands: CPU-only, 1-GPU and multi-GPU work, some tied to clouds or regions. */
const simulate = (nodes: ReadonlyArray<NodeType>, agents: number, demandCount: number, seed: number): Simulation => {
  const rnd = prng(seed);
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(rnd() * xs.length)];
  const cpuNodes = nodes.filter((n) => n.gpus === 0);
  const gpuClouds = [...new Set(nodes.filter((n) => n.gpus > 0).map((n) => n.cloud))];
  const gpuNodesOf = new Map(gpuClouds.map((c) => [c, nodes.filter((n) => n.gpus > 0 && n.cloud === c)]));
  const fleet = Array.from({ length: agents }, () => (rnd() < CPU_NODE_SHARE ? pick(cpuNodes) : pick(gpuNodesOf.get(pick(gpuClouds))!)));

  const functions = Array.from({ length: FUNCTIONS }, (_, i): Omit<Demand, "demandId"> => {
    const node = pick(fleet);
    const kind = rnd();
    const [cpu, memoryMiB] = pick(CPU_SHAPES);
    const place = rnd();
    const clouds = place < 0.1 ? [node.cloud] : place < 0.15 ? [node.cloud, pick(fleet).cloud] : [];
    const cloudRegions = place > 0.95 ? [node.region] : [];
    const functionId = `fn-${i}`;
    if (kind < 0.7 || node.gpus === 0) return { functionId, cpu, memoryMiB, gpu: [], clouds, cloudRegions };
    const count = kind < 0.9 ? 1 : Math.min(pick(GPU_COUNTS), node.gpus);
    const gpu = rnd() < 0.05 ? [`any:${count}`] : rnd() < 0.3 ? [`${node.gpuType}:${count}`, `${pick(fleet).gpuType || "A100"}:${count}`] : [`${node.gpuType}:${count}`];
    return { functionId, cpu: 2 * count, memoryMiB: 8192 * count, gpu, clouds, cloudRegions };
  });

  const bids = fleet.map((node, i): Bid => {
    const running = rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * 6);
    const busy = running === 0 ? 0 : 0.1 + rnd() * 0.6;
    const indices = Array.from({ length: node.gpus }, (_, g) => g).filter(() => running === 0 || rnd() > busy);
    const warm = new Map<string, number>();
    for (let k = Math.floor(rnd() * 4); k > 0; k--) warm.set(pick(functions).functionId, 200 + Math.floor(rnd() * 1800));
    return {
      agentId: `agent-${String(i).padStart(5, "0")}`,
      pricePerSecond: node.pricePerHour / 3600,
      free: { cpu: Math.floor(node.cpu * (1 - busy)), memoryMiB: Math.floor(node.memoryMiB * (1 - busy)), gpus: indices.map((index) => ({ index, type: node.gpuType })) },
      total: { cpu: node.cpu, memoryMiB: node.memoryMiB, gpus: node.gpus },
      startLatencyMs: node.gpus > 0 ? 15_000 + Math.floor(rnd() * 30_000) : 3_000 + Math.floor(rnd() * 7_000),
      startLatencyMsByFunction: warm,
      cloud: node.cloud, cloudRegion: node.region, zone: node.zone,
      rdmaFabricId: node.gpus === 8 && rnd() < 0.5 ? `fabric-${node.cloud}-${Math.floor(rnd() * 20)}` : "",
      runningContainers: running,
    };
  });
  // A few functions are popular: a skewed draw, as real bursts are.
  const demands = Array.from({ length: demandCount }, (_, i): Demand => ({ demandId: `d-${i}`, ...functions[Math.floor(FUNCTIONS * rnd() ** 2)] }));
  return { bids, demands };
};

/** Fails loudly if any agent was given more than it bid or a GPU twice. */
const checkResult = (sim: Simulation, r: AuctionResult): void => {
  const bids = new Map(sim.bids.map((b) => [b.agentId, b]));
  const demands = new Map(sim.demands.map((d) => [d.demandId, d]));
  const used = new Map<string, { cpu: number; mem: number; gpus: Set<number> }>();
  for (const a of r.assignments) {
    const b = bids.get(a.agentId)!;
    const d = demands.get(a.demandId)!;
    const u = used.get(a.agentId) ?? { cpu: 0, mem: 0, gpus: new Set<number>() };
    used.set(a.agentId, u);
    u.cpu += d.cpu;
    u.mem += d.memoryMiB;
    if (u.cpu > b.free.cpu + 1e-6 || u.mem > b.free.memoryMiB) throw new Error(`${a.agentId} given more than it bid`);
    if (d.clouds.length > 0 && !d.clouds.includes(b.cloud)) throw new Error(`${a.demandId} placed outside its clouds`);
    for (const g of a.gpuIndices) {
      if (u.gpus.has(g) || !b.free.gpus.some((f) => f.index === g)) throw new Error(`${a.agentId} gpu ${g} given twice or not free`);
      u.gpus.add(g);
    }
  }
  if (r.assignments.length + r.unplaced.length !== sim.demands.length) throw new Error("a demand was neither placed nor explained");
};

/** Today's scheduler: `placeContainer` scans every agent for each demand; capacity is consumed after. */
const naiveScan = (sim: Simulation, count: number): { rate: number; placed: number } => {
  const slots: AgentSlot[] = sim.bids.map((b) => ({
    agentId: b.agentId, freeCpu: b.free.cpu, freeMemoryMiB: b.free.memoryMiB, freeGpus: b.free.gpus.map((g) => g.type),
    startingContainers: 0, totalCpu: b.total.cpu,
  }));
  const indexOf = new Map(slots.map((s, i) => [s.agentId, i]));
  let placed = 0;
  const t0 = performance.now();
  for (const d of sim.demands.slice(0, count)) {
    const slot = placeContainer(slots, d);
    if (slot === undefined) continue;
    placed++;
    const spec = d.gpu.map((s) => ({ type: s.split(":")[0].toLowerCase(), n: Number(s.split(":")[1] ?? 1) }))
      .find((s) => slot.freeGpus.filter((g) => s.type === "any" || g.toLowerCase() === s.type).length >= s.n);
    let left = spec?.n ?? 0;
    const freeGpus = slot.freeGpus.filter((g) => !(left > 0 && (spec!.type === "any" || g.toLowerCase() === spec!.type) && left-- > 0));
    slots[indexOf.get(slot.agentId)!] = { ...slot, freeCpu: slot.freeCpu - d.cpu, freeMemoryMiB: slot.freeMemoryMiB - d.memoryMiB, freeGpus, startingContainers: slot.startingContainers + 1 };
  }
  return { rate: count / ((performance.now() - t0) / 1000), placed };
};

export const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const agents = intArg(args, "agents", 10_000);
  const demandCount = intArg(args, "demands", 100_000);
  const runs = intArg(args, "runs", 5);
  const maxStarts = intArg(args, "max-starts", 16);
  const baselineCount = Math.min(intArg(args, "baseline-demands", 2_000), demandCount);
  const seed = intArg(args, "seed", 7);
  const dir = CATALOG_DIRS.find((d) => existsSync(d));
  if (dir === undefined) throw new Error(`no GPU catalog found in ${CATALOG_DIRS.join(" or ")}`);
  const nodes = readCatalog(dir);
  log(`catalog ${dir}: ${nodes.length} node types (${nodes.filter((n) => n.gpus > 0).length} with GPUs) from ${new Set(nodes.map((n) => n.cloud)).size} clouds`);
  const sim = simulate(nodes, agents, demandCount, seed);
  const gpuDemands = sim.demands.filter((d) => d.gpu.length > 0);
  const shapes = new Set(sim.demands.map((d) => JSON.stringify([d.cpu, d.memoryMiB, d.gpu, d.clouds, d.cloudRegions]))).size;
  log(`simulated ${agents} agents (${sim.bids.reduce((n, b) => n + b.free.gpus.length, 0)} free GPUs) and ${demandCount} demands ` +
    `(${demandCount - gpuDemands.length} CPU-only, ${gpuDemands.filter((d) => d.gpu[0].endsWith(":1")).length} 1-GPU, ` +
    `${sim.demands.filter((d) => d.clouds.length + d.cloudRegions.length > 0).length} with cloud or region constraints; ${shapes} distinct shapes); maxStartsPerAgent ${maxStarts}`);

  const clearOnce = (label: string): { rate: number; result: AuctionResult } => {
    const t0 = performance.now();
    const result = clearAuction(sim.demands, sim.bids, { maxStartsPerAgent: maxStarts });
    const ms = performance.now() - t0;
    const rate = demandCount / (ms / 1000);
    log(`${label}: cleared ${demandCount} demands in ${ms.toFixed(1)} ms = ${rate.toFixed(0)} placements/s (${result.assignments.length} placed)`);
    return { rate, result };
  };
  const warm = clearOnce("warm-up");
  checkResult(sim, warm.result);
  const reasons = new Map<string, number>();
  for (const u of warm.result.unplaced) reasons.set(u.reason, (reasons.get(u.reason) ?? 0) + 1);
  log(`result checked (no overcommit, GPUs exclusive, constraints kept); top unplaced reasons: ${JSON.stringify([...reasons].sort((a, b) => b[1] - a[1]).slice(0, 4))}`);
  const rates: number[] = [];
  for (let r = 1; r <= runs; r++) rates.push(clearOnce(`run ${r}/${runs}`).rate);

  log(`baseline: placeContainer per demand over all ${agents} agents, first ${baselineCount} demands`);
  const base = naiveScan(sim, baselineCount);
  log(`baseline: ${base.rate.toFixed(0)} placements/s (${base.placed} placed)`);
  const rate = median(rates);
  log(`clearAuction median ${rate.toFixed(0)} placements/s (target >= 100000), ${(rate / base.rate).toFixed(0)}x the naive scan`);
  await finish({
    bench: "placement",
    agents,
    demands: demandCount,
    placements_per_s: round(rate, 0),
    placed: warm.result.assignments.length,
    runs,
    runs_placements_per_s: rates.map((x) => round(x, 0)),
    max_starts_per_agent: maxStarts,
    target_placements_per_s: 100_000,
    target_met: rate >= 100_000,
    baseline: { name: "naive scan (placeContainer per demand)", placements_per_s: round(base.rate, 0), demands: baselineCount, placed: base.placed },
  });
};
