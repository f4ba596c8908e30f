import { describe, expect, it } from "vitest";
import type { Assignment, AuctionResult, Bid, Demand, FreeGpu } from "../src/broker/auction-types.ts";
import { clearAuction, DEFAULT_MAX_STARTS_PER_AGENT, LATENCY_PRICE_USD_PER_S } from "../src/broker/clear-auction.ts";
import { clearAuctionByScan } from "./clear-auction-reference.ts";

const HOUR = 3600;

const gpus = (type: string, indices: ReadonlyArray<number>): FreeGpu[] => indices.map((index) => ({ index, type }));

const bid = (agentId: string, over: Partial<Bid> = {}): Bid => ({
  agentId,
  pricePerSecond: 1 / HOUR,
  free: { cpu: 16, memoryMiB: 65_536, gpus: [] },
  total: { cpu: 16, memoryMiB: 65_536, gpus: 0 },
  startLatencyMs: 10_000,
  cloud: "aws",
  cloudRegion: "us-east-1",
  zone: "us-east-1a",
  rdmaFabricId: "",
  runningContainers: 0,
  ...over,
});

const gpuBid = (agentId: string, type: string, count: number, over: Partial<Bid> = {}): Bid =>
  bid(agentId, {
    pricePerSecond: (2 * count) / HOUR,
    free: { cpu: 8 * count, memoryMiB: 65_536 * count, gpus: gpus(type, Array.from({ length: count }, (_, i) => i)) },
    total: { cpu: 8 * count, memoryMiB: 65_536 * count, gpus: count },
    ...over,
  });

let demandSeq = 0;
const demand = (over: Partial<Demand> = {}): Demand => ({
  demandId: `d${++demandSeq}`,
  functionId: "fn",
  cpu: 1,
  memoryMiB: 1024,
  gpu: [],
  clouds: [],
  cloudRegions: [],
  ...over,
});

const winners = (r: AuctionResult): string[] => r.assignments.map((a) => a.agentId);

describe("clearAuction: who wins", () => {
  it("gives a demand to the cheaper of two otherwise equal agents", () => {
    const r = clearAuction([demand()], [bid("dear", { pricePerSecond: 2 / HOUR }), bid("cheap", { pricePerSecond: 1 / HOUR })]);
    expect(winners(r)).toEqual(["cheap"]);
  });

  it("prefers a warm agent when its start-latency saving outweighs the price difference, not otherwise", () => {
    // 1 GPU of 1: the share is 1, so the score difference in price is the whole price difference.
    const cold = gpuBid("cold", "H100", 1, { pricePerSecond: 2 / HOUR, startLatencyMs: 30_000 });
    const warmBy = (extraPerSecond: number) =>
      gpuBid("warm", "H100", 1, { pricePerSecond: 2 / HOUR + extraPerSecond, startLatencyMs: 30_000, startLatencyMsByFunction: new Map([["embed", 1_000]]) });
    const saving = 29 * LATENCY_PRICE_USD_PER_S;
    const want = demand({ functionId: "embed", gpu: ["H100"] });
    expect(winners(clearAuction([want], [cold, warmBy(saving * 0.9)]))).toEqual(["warm"]);
    expect(winners(clearAuction([want], [cold, warmBy(saving * 1.1)]))).toEqual(["cold"]);
    // The latency hint is per function: another function sees the warm agent as cold and dearer.
    expect(winners(clearAuction([demand({ functionId: "other", gpu: ["H100"] })], [cold, warmBy(saving * 0.9)]))).toEqual(["cold"]);
  });

  it("packs work onto a node already running containers, even when an idle one is a little cheaper", () => {
    const busy = bid("busy", { pricePerSecond: 1 / HOUR, runningContainers: 2 });
    const idle = bid("idle", { pricePerSecond: 0.8 / HOUR });
    const r = clearAuction([demand(), demand(), demand()], [idle, busy]);
    expect(winners(r)).toEqual(["busy", "busy", "busy"]);
  });

  it("keeps giving work to the best agent until it is full, then moves to the next", () => {
    const small = bid("small", { pricePerSecond: 0.5 / HOUR, free: { cpu: 2, memoryMiB: 65_536, gpus: [] } });
    const r = clearAuction([demand(), demand(), demand()], [bid("big"), small]);
    expect(winners(r)).toEqual(["small", "small", "big"]);
  });

  it("breaks equal scores by least free capacity as bid, then by agentId", () => {
    const same = { pricePerSecond: 1 / HOUR, total: { cpu: 16, memoryMiB: 65_536, gpus: 0 } };
    const fuller = bid("z-fuller", { ...same, free: { cpu: 8, memoryMiB: 65_536, gpus: [] } });
    expect(winners(clearAuction([demand()], [bid("a-emptier", same), fuller]))).toEqual(["z-fuller"]);
    expect(winners(clearAuction([demand()], [bid("b", same), bid("a", same)]))).toEqual(["a"]);
  });

  it("discounts a distrusted agent: a lying agent loses to an honest one with the same bid", () => {
    const reputation = (agentId: string) => (agentId === "a-liar" ? 0.5 : 1);
    const r = clearAuction([demand()], [bid("a-liar"), bid("b-honest")], { reputation });
    expect(winners(r)).toEqual(["b-honest"]);
    // Trusted fully, the liar would have won the tie on agentId.
    expect(winners(clearAuction([demand()], [bid("a-liar"), bid("b-honest")]))).toEqual(["a-liar"]);
  });

  it("charges the container's share of the node price, without the packing discount", () => {
    const node = bid("n", { pricePerSecond: 16 / HOUR, runningContainers: 1 });
    const [a] = clearAuction([demand({ cpu: 4, memoryMiB: 1024 })], [node]).assignments;
    expect(a.pricePerSecond).toBeCloseTo((4 / 16) * (16 / HOUR), 15);
  });

  it("is deterministic: the order bids arrive in does not change the result", () => {
    const bids = [bid("a"), bid("b"), bid("c", { runningContainers: 1 }), gpuBid("g", "H100", 8)];
    const demands = [demand(), demand({ gpu: ["H100:2"] }), demand({ cpu: 4 }), demand()];
    expect(clearAuction(demands, [...bids].reverse())).toEqual(clearAuction(demands, bids));
  });
});

describe("clearAuction: GPUs", () => {
  it("assigns GPU indices exclusively, from the agent's free ones, never twice in one auction", () => {
    const node = bid("n8", {
      free: { cpu: 64, memoryMiB: 512_000, gpus: gpus("H100", [1, 3, 4, 6, 7]) },
      total: { cpu: 64, memoryMiB: 512_000, gpus: 8 },
    });
    const r = clearAuction([demand({ gpu: ["H100:2"] }), demand({ gpu: ["H100:2"] }), demand({ gpu: ["H100:2"] })], [node], { maxStartsPerAgent: 8 });
    expect(r.assignments.map((a) => a.gpuIndices)).toEqual([[1, 3], [4, 6]]);
    expect(r.unplaced).toEqual([{ demandId: expect.any(String), reason: "no capacity left for 1 CPU / 1024 MiB with gpu H100:2: earlier demands in this auction took it" }]);
  });

  it("tries GPU specs in the demand's order: a later one only when no agent has an earlier one free", () => {
    const h100 = gpuBid("h100", "H100", 2, { pricePerSecond: 10 / HOUR });
    const a100 = gpuBid("a100", "A100-80GB", 2, { pricePerSecond: 1 / HOUR });
    const want = () => demand({ gpu: ["H100:2", "A100-80GB:2"] });
    const r = clearAuction([want(), want(), want()], [h100, a100]);
    expect(r.assignments.map((a) => [a.agentId, a.gpuType])).toEqual([["h100", "H100"], ["a100", "A100-80GB"]]);
    expect(r.unplaced).toHaveLength(1);
  });

  it("matches GPU types case-insensitively and 'any' takes GPUs of one type", () => {
    const mixed = bid("mixed", {
      free: { cpu: 32, memoryMiB: 256_000, gpus: [...gpus("L4", [0]), ...gpus("A10", [1, 2])] },
      total: { cpu: 32, memoryMiB: 256_000, gpus: 3 },
    });
    const r = clearAuction([demand({ gpu: ["a10:1"] }), demand({ gpu: ["any:1"] })], [mixed]);
    expect(r.assignments.map((a) => [a.gpuType, a.gpuIndices])).toEqual([["A10", [1]], ["L4", [0]]]);
    const pair = clearAuction([demand({ gpu: ["any:2"] })], [mixed]);
    expect(pair.assignments.map((a) => [a.gpuType, a.gpuIndices])).toEqual([["A10", [1, 2]]]);
  });

  it("never gives GPUs to a CPU-only demand", () => {
    const r = clearAuction([demand()], [gpuBid("g", "H100", 8)]);
    expect(r.assignments).toEqual([expect.objectContaining({ agentId: "g", gpuIndices: [], gpuType: undefined })]);
  });
});

describe("clearAuction: constraints and limits", () => {
  it("never places outside the allowed clouds or cloud regions, however cheap the agent", () => {
    const bids = [
      bid("aws-east", { cloud: "aws", cloudRegion: "us-east-1", pricePerSecond: 0.1 / HOUR }),
      bid("gcp-west", { cloud: "gcp", cloudRegion: "us-west1", pricePerSecond: 0.2 / HOUR }),
      bid("gcp-east", { cloud: "gcp", cloudRegion: "us-east1", pricePerSecond: 5 / HOUR }),
    ];
    const r = clearAuction([demand({ clouds: ["GCP"] }), demand({ clouds: ["gcp"], cloudRegions: ["us-east1"] }), demand({ cloudRegions: ["us-east-1"] })], bids);
    expect(winners(r)).toEqual(["gcp-west", "gcp-east", "aws-east"]);
  });

  it(`gives one agent at most ${DEFAULT_MAX_STARTS_PER_AGENT} containers per auction by default, or maxStartsPerAgent`, () => {
    const demands = Array.from({ length: 10 }, () => demand());
    const byDefault = clearAuction(demands, [bid("big", { pricePerSecond: 0.1 / HOUR }), bid("other")]);
    expect(winners(byDefault)).toEqual([...Array(DEFAULT_MAX_STARTS_PER_AGENT).fill("big"), ...Array(DEFAULT_MAX_STARTS_PER_AGENT).fill("other")]);
    expect(byDefault.unplaced[0].reason).toBe(`every agent with room for 1 CPU / 1024 MiB already got ${DEFAULT_MAX_STARTS_PER_AGENT} starts in this auction`);
    const two = clearAuction(demands, [bid("big")], { maxStartsPerAgent: 2 });
    expect(two.assignments).toHaveLength(2);
  });

  it("counts an agent's last bid only, and ignores bids with impossible numbers", () => {
    const r = clearAuction([demand()], [bid("a", { pricePerSecond: 0.1 / HOUR }), bid("b"), bid("a", { pricePerSecond: 9 / HOUR }), bid("c", { pricePerSecond: Number.NaN })]);
    expect(winners(r)).toEqual(["b"]);
  });
});

describe("clearAuction: reasons for unplaced demands", () => {
  const reason = (d: Demand, bids: ReadonlyArray<Bid>): string | undefined => clearAuction([d], bids).unplaced[0]?.reason;

  it("names the cause a user can act on", () => {
    expect(reason(demand(), [])).toBe("no agent bid in this auction");
    expect(reason(demand({ gpu: ["H100:8"] }), [gpuBid("g", "H100", 4)])).toBe("no agent offers gpu H100:8");
    expect(reason(demand({ gpu: ["H100:8", "A100:8"] }), [gpuBid("g", "H100", 4)])).toBe("no agent offers gpu H100:8 or A100:8");
    expect(reason(demand({ cpu: 4, memoryMiB: 8192 }), [bid("a", { free: { cpu: 2, memoryMiB: 65_536, gpus: [] } })])).toBe("no capacity free for 4 CPU / 8192 MiB");
    expect(reason(demand({ clouds: ["lambda", "runpod"] }), [bid("a")])).toBe("only clouds lambda, runpod allowed, and no agent bid from them");
    expect(reason(demand({ cloudRegions: ["eu-west-1"] }), [bid("a")])).toBe("only cloud regions eu-west-1 allowed, and no agent bid from them");
    expect(reason(demand({ gpu: ["H100:x"] }), [bid("a")])).toBe('invalid gpu spec "H100:x": expected TYPE or TYPE:COUNT with COUNT >= 1');
    expect(reason(demand({ cpu: -1 }), [bid("a")])).toBe("invalid resources -1 CPU / 1024 MiB: both must be finite and not negative");
  });

  it("tells capacity taken earlier in the auction apart from capacity never offered", () => {
    const r = clearAuction([demand({ cpu: 12 }), demand({ cpu: 12 })], [bid("a")]);
    expect(r.unplaced).toEqual([{ demandId: expect.any(String), reason: "no capacity left for 12 CPU / 1024 MiB: earlier demands in this auction took it" }]);
  });
});

/** Mulberry32: a small seeded PRNG, so every failing case can be replayed. */
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

/** A small random auction with deliberately coarse numbers, so equal scores (ties) are common. */
const randomAuction = (seed: number, maxAgents = 12, maxDemands = 30) => {
  const rnd = prng(seed);
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(rnd() * xs.length)];
  const types = ["H100", "h100", "A100-80GB", "L40S"];
  const clouds = ["aws", "gcp", "Lambda"];
  const regions = ["r1", "r2", "r3"];
  const functions = ["f1", "f2", "f3", "f4"];
  const bids: Bid[] = Array.from({ length: 1 + Math.floor(rnd() * maxAgents) }, () => {
    const totalGpus = pick([0, 0, 1, 2, 4, 8]);
    const free = Array.from({ length: totalGpus }, (_, i) => i).filter(() => rnd() < 0.7);
    const totalCpu = pick([2, 4, 8, 16]);
    return bid(`agent-${Math.floor(rnd() * maxAgents * 1.2)}`, {
      pricePerSecond: pick([0, 1, 2, 4]) / HOUR,
      free: { cpu: pick([0.5, 1, 2, totalCpu]), memoryMiB: pick([1024, 4096, 16_384]), gpus: free.map((index) => ({ index, type: pick(types) })) },
      total: { cpu: totalCpu, memoryMiB: 16_384, gpus: totalGpus },
      startLatencyMs: pick([1000, 5000, 20_000]),
      startLatencyMsByFunction: rnd() < 0.4 ? new Map([[pick(functions), pick([100, 500, 30_000])]]) : undefined,
      cloud: pick(clouds),
      cloudRegion: pick(regions),
      runningContainers: pick([0, 0, 1, 3]),
    });
  });
  const specs = ["H100", "H100:2", "a100-80gb:1", "L40S:2", "any", "any:2", "B200:1"];
  const demands: Demand[] = Array.from({ length: 1 + Math.floor(rnd() * maxDemands) }, (_, i) =>
    demand({
      demandId: `r${i}`,
      functionId: pick(functions),
      cpu: pick([0.25, 0.5, 1, 2]),
      memoryMiB: pick([256, 1024, 4096]),
      gpu: rnd() < 0.4 ? [] : Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => pick(specs)),
      clouds: rnd() < 0.2 ? [pick(clouds).toUpperCase()] : [],
      cloudRegions: rnd() < 0.15 ? [pick(regions), pick(regions)] : [],
    }),
  );
  const trust = new Map(bids.map((b) => [b.agentId, pick([1, 1, 0.5, 0.25])]));
  const opts = {
    maxStartsPerAgent: pick([1, 2, 4]),
    reputation: rnd() < 0.5 ? (agentId: string) => trust.get(agentId) ?? 1 : undefined,
  };
  return { bids, demands, opts };
};

/** Every assignment respects its bid: capacity and GPU indices never overcommitted. */
const overcommitted = (bids: ReadonlyArray<Bid>, demands: ReadonlyArray<Demand>, assignments: ReadonlyArray<Assignment>): string[] => {
  const last = new Map(bids.map((b) => [b.agentId, b]));
  const byId = new Map(demands.map((d) => [d.demandId, d]));
  const used = new Map<string, { cpu: number; mem: number; gpus: Set<number> }>();
  const problems: string[] = [];
  for (const a of assignments) {
    const b = last.get(a.agentId)!;
    const d = byId.get(a.demandId)!;
    const u = used.get(a.agentId) ?? { cpu: 0, mem: 0, gpus: new Set<number>() };
    used.set(a.agentId, u);
    u.cpu += d.cpu;
    u.mem += d.memoryMiB;
    if (u.cpu > b.free.cpu + 1e-6 || u.mem > b.free.memoryMiB) problems.push(`${a.agentId} over capacity`);
    for (const i of a.gpuIndices) {
      if (u.gpus.has(i)) problems.push(`${a.agentId} gpu ${i} given twice`);
      if (!b.free.gpus.some((g) => g.index === i)) problems.push(`${a.agentId} gpu ${i} not free`);
      u.gpus.add(i);
    }
  }
  return problems;
};

describe("clearAuction matches the brute-force scan of the same rule", () => {
  it("gives identical assignments and reasons on 200 random small auctions", () => {
    let placed = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const { bids, demands, opts } = randomAuction(seed);
      const fast = clearAuction(demands, bids, opts);
      expect(fast, `seed ${seed}`).toEqual(clearAuctionByScan(demands, bids, opts));
      expect(overcommitted(bids, demands, fast.assignments), `seed ${seed}`).toEqual([]);
      expect(fast.assignments.length + fast.unplaced.length).toBe(demands.length);
      placed += fast.assignments.length;
    }
    // The cases are not all trivially empty.
    expect(placed).toBeGreaterThan(500);
  });

  it("gives identical results on larger auctions, where candidate queues are deep and capacity runs out", () => {
    for (let seed = 1001; seed <= 1005; seed++) {
      const { bids, demands, opts } = randomAuction(seed, 300, 2000);
      const fast = clearAuction(demands, bids, opts);
      expect(fast, `seed ${seed}`).toEqual(clearAuctionByScan(demands, bids, opts));
      expect(overcommitted(bids, demands, fast.assignments), `seed ${seed}`).toEqual([]);
    }
  });
});
