import { describe, it, expect } from "vitest";
import { Limits } from "@ferry/core";
import { containersToStart, type FunctionLoad } from "../src/scheduler/plan-scale.ts";
import { explainNoFit, MAX_STARTING_PER_AGENT, placeContainer, type AgentSlot, type ContainerRequest } from "../src/scheduler/place-container.ts";
import { batchSizeFor, planInputBatches } from "../src/calls/enqueue-inputs.ts";

const load = (over: Partial<FunctionLoad>): FunctionLoad => ({
  outstandingBatches: 0, liveContainers: 0, minContainers: 0, maxContainers: 100, bufferContainers: 0, ...over,
});

describe("containersToStart", () => {
  it("starts nothing when there is no work and no minimum", () => {
    expect(containersToStart(load({}))).toBe(0);
    expect(containersToStart(load({ liveContainers: 3 }))).toBe(0);
  });

  it("starts one container per outstanding batch, less those already live", () => {
    expect(containersToStart(load({ outstandingBatches: 3 }))).toBe(3);
    expect(containersToStart(load({ outstandingBatches: 3, liveContainers: 1 }))).toBe(2);
    expect(containersToStart(load({ outstandingBatches: 3, liveContainers: 5 }))).toBe(0);
  });

  it("keeps minContainers up even with no work", () => {
    expect(containersToStart(load({ minContainers: 2 }))).toBe(2);
    expect(containersToStart(load({ minContainers: 2, liveContainers: 1 }))).toBe(1);
    expect(containersToStart(load({ minContainers: 2, liveContainers: 2 }))).toBe(0);
  });

  it("never goes above maxContainers", () => {
    expect(containersToStart(load({ outstandingBatches: 50, maxContainers: 4 }))).toBe(4);
    expect(containersToStart(load({ outstandingBatches: 50, maxContainers: 4, liveContainers: 3 }))).toBe(1);
    expect(containersToStart(load({ outstandingBatches: 50, maxContainers: 4, liveContainers: 4 }))).toBe(0);
  });

  it("adds bufferContainers only while there is work, within maxContainers", () => {
    expect(containersToStart(load({ bufferContainers: 2 }))).toBe(0);
    expect(containersToStart(load({ outstandingBatches: 1, bufferContainers: 2 }))).toBe(3);
    expect(containersToStart(load({ outstandingBatches: 1, bufferContainers: 2, maxContainers: 2 }))).toBe(2);
  });

  it("the minimum wins over a smaller demand, and the maximum over the minimum", () => {
    expect(containersToStart(load({ outstandingBatches: 1, minContainers: 3 }))).toBe(3);
    expect(containersToStart(load({ minContainers: 5, maxContainers: 2 }))).toBe(2);
  });
});

const agent = (agentId: string, over: Partial<AgentSlot> = {}): AgentSlot => ({
  agentId, freeCpu: 8, totalCpu: 8, freeMemoryMiB: 16_384, freeGpus: [], startingContainers: 0, ...over,
});
const cpuOnly = (cpu = 1, memoryMiB = 512): ContainerRequest => ({ cpu, memoryMiB, gpu: [] });
const withGpu = (...gpu: string[]): ContainerRequest => ({ cpu: 1, memoryMiB: 512, gpu });

describe("placeContainer", () => {
  it("returns undefined when there are no agents", () => {
    expect(placeContainer([], cpuOnly())).toBeUndefined();
  });

  it("packs onto the busiest agent (least free CPU share) that has room", () => {
    const agents = [
      agent("idle", { freeCpu: 8 }),
      agent("busy", { freeCpu: 2 }),
      agent("half", { freeCpu: 4 }),
    ];
    expect(placeContainer(agents, cpuOnly(1))?.agentId).toBe("busy");
  });

  it("measures busyness as a share of each agent's total, not absolute free CPU", () => {
    const agents = [
      agent("small-idle", { freeCpu: 2, totalCpu: 2 }),
      agent("big-busy", { freeCpu: 16, totalCpu: 64 }),
    ];
    expect(placeContainer(agents, cpuOnly(1))?.agentId).toBe("big-busy");
  });

  it("skips the busiest agent when it lacks CPU for the request", () => {
    const agents = [agent("idle", { freeCpu: 8 }), agent("busy", { freeCpu: 0.5 })];
    expect(placeContainer(agents, cpuOnly(1))?.agentId).toBe("idle");
    expect(placeContainer(agents, cpuOnly(0.5))?.agentId).toBe("busy");
  });

  it("accepts a request for exactly the free CPU, fractions included", () => {
    expect(placeContainer([agent("a", { freeCpu: 0.375 })], cpuOnly(0.125 * 3))?.agentId).toBe("a");
    expect(placeContainer([agent("a", { freeCpu: 0.25 })], cpuOnly(0.375))).toBeUndefined();
  });

  it("respects free memory", () => {
    const agents = [agent("tight", { freeCpu: 1, freeMemoryMiB: 256 }), agent("roomy", { freeMemoryMiB: 8192 })];
    expect(placeContainer(agents, cpuOnly(1, 512))?.agentId).toBe("roomy");
    expect(placeContainer(agents, cpuOnly(1, 256))?.agentId).toBe("tight");
    expect(placeContainer(agents, cpuOnly(1, 9000))).toBeUndefined();
  });

  it("places a GPU request only on an agent with that GPU type free (case-insensitive)", () => {
    const agents = [
      agent("cpu-box", { freeCpu: 1 }),
      agent("a100", { freeGpus: ["A100-80GB"] }),
      agent("h100", { freeGpus: ["H100", "H100"] }),
    ];
    expect(placeContainer(agents, withGpu("H100"))?.agentId).toBe("h100");
    expect(placeContainer(agents, withGpu("h100"))?.agentId).toBe("h100");
    expect(placeContainer(agents, withGpu("A100-80GB"))?.agentId).toBe("a100");
    expect(placeContainer(agents, withGpu("L4"))).toBeUndefined();
  });

  it("honours a GPU count like A100-80GB:2", () => {
    const agents = [
      agent("one", { freeCpu: 1, freeGpus: ["A100-80GB", "H100"] }),
      agent("two", { freeGpus: ["A100-80GB", "A100-80GB"] }),
    ];
    expect(placeContainer(agents, withGpu("A100-80GB:2"))?.agentId).toBe("two");
    expect(placeContainer(agents, withGpu("A100-80GB:3"))).toBeUndefined();
    // Mixed types do not add up to a count of one type.
    expect(placeContainer([agents[0]], withGpu("A100-80GB:2"))).toBeUndefined();
  });

  it("\"any\" takes any GPU type, with a count", () => {
    const agents = [agent("cpu", { freeCpu: 1 }), agent("mixed", { freeGpus: ["L4", "T4"] })];
    expect(placeContainer(agents, withGpu("any"))?.agentId).toBe("mixed");
    expect(placeContainer(agents, withGpu("any:2"))?.agentId).toBe("mixed");
    expect(placeContainer(agents, withGpu("any:3"))).toBeUndefined();
    expect(placeContainer([agent("cpu")], withGpu("any"))).toBeUndefined();
  });

  it("a fallback list is satisfied by any of its GPU types", () => {
    const agents = [agent("a100", { freeGpus: ["A100-80GB"] })];
    expect(placeContainer(agents, withGpu("H100", "A100-80GB"))?.agentId).toBe("a100");
    expect(placeContainer(agents, withGpu("H100", "L4"))).toBeUndefined();
  });

  it("skips agents already starting MAX_STARTING_PER_AGENT containers", () => {
    const agents = [
      agent("storming", { freeCpu: 1, startingContainers: MAX_STARTING_PER_AGENT }),
      agent("calm", { freeCpu: 8, startingContainers: MAX_STARTING_PER_AGENT - 1 }),
    ];
    expect(placeContainer(agents, cpuOnly(1))?.agentId).toBe("calm");
    expect(placeContainer([agents[0]], cpuOnly(1))).toBeUndefined();
  });
});

type FullSlot = AgentSlot & { totalMemoryMiB: number; allGpus: ReadonlyArray<string> };
const full = (agentId: string, over: Partial<FullSlot> = {}): FullSlot => ({
  ...agent(agentId), totalMemoryMiB: 16_384, allGpus: [], ...over,
});

describe("explainNoFit", () => {
  it("says no agent is connected when there are none", () => {
    expect(explainNoFit([], cpuOnly())).toBe("no agent is connected to this region");
  });

  it("says nothing when some agent could ever take the container, even if all are full now", () => {
    const busy = full("busy", { freeCpu: 0, freeMemoryMiB: 0, startingContainers: MAX_STARTING_PER_AGENT });
    expect(explainNoFit([busy], cpuOnly(4, 4096))).toBeUndefined();
    const gpuBusy = full("g", { allGpus: ["H100"], freeGpus: [] });
    expect(explainNoFit([gpuBusy], withGpu("H100"))).toBeUndefined();
  });

  it("names the GPU when no agent offers it", () => {
    const agents = [full("a", { allGpus: ["A100-80GB"] })];
    expect(explainNoFit(agents, withGpu("H100"))).toBe("no agent in this region offers gpu H100");
    expect(explainNoFit(agents, withGpu("H100", "L4"))).toBe("no agent in this region offers gpu H100 or L4");
    expect(explainNoFit(agents, withGpu("A100-80GB:2"))).toBe("no agent in this region offers gpu A100-80GB:2");
  });

  it("names CPU and memory when no agent is ever big enough", () => {
    const agents = [full("small", { totalCpu: 2, totalMemoryMiB: 1024 })];
    expect(explainNoFit(agents, cpuOnly(4, 512))).toBe("no agent in this region has 4 CPU and 512 MiB");
    expect(explainNoFit(agents, cpuOnly(1, 2048))).toBe("no agent in this region has 1 CPU and 2048 MiB");
    expect(explainNoFit(agents, cpuOnly(2, 1024))).toBeUndefined();
  });
});

describe("batchSizeFor", () => {
  it("sends small requests one input per message", () => {
    for (const n of [0, 1, 2, 16]) expect(batchSizeFor(n)).toBe(1);
  });

  it("grows with the request but never above Limits.maxInputsPerMessage", () => {
    expect(batchSizeFor(17)).toBe(2);
    expect(batchSizeFor(160)).toBe(10);
    for (const n of [1_600, Limits.maxInputsPerRequest, 1_000_000]) expect(batchSizeFor(n)).toBe(Limits.maxInputsPerMessage);
    let prev = 0;
    for (let n = 1; n <= 3_000; n += 37) {
      const s = batchSizeFor(n);
      expect(s).toBeGreaterThanOrEqual(prev);
      expect(s).toBeLessThanOrEqual(Limits.maxInputsPerMessage);
      prev = s;
    }
  });
});

const head = { callId: "fc-test", functionId: "fn-test", appId: "ap-test" };
const args = (values: ReadonlyArray<unknown>) => values.map((value) => ({ json: JSON.stringify(value), value }));

describe("planInputBatches", () => {
  it("plans nothing for no inputs", () => {
    expect(planInputBatches(head, 0, [])).toEqual([]);
  });

  it("indexes inputs continuously from startIdx, in order, with attempt 0", () => {
    const values = Array.from({ length: 250 }, (_, i) => [i]);
    const batches = planInputBatches(head, 1_000, args(values));
    const inputs = batches.flatMap((b) => b.inputs);
    expect(inputs.map((q) => q.idx)).toEqual(values.map((_, i) => 1_000 + i));
    expect(inputs.map((q) => q.args)).toEqual(values);
    expect(inputs.every((q) => q.attempt === 0 && q.notBefore === undefined)).toBe(true);
    for (const b of batches) expect(b).toMatchObject(head);
  });

  it("uses batchSizeFor(count) per message and at most Limits.maxInputsPerMessage", () => {
    for (const n of [1, 16, 17, 250, 5_000]) {
      const batches = planInputBatches(head, 0, args(Array.from({ length: n }, (_, i) => i)));
      const size = batchSizeFor(n);
      expect(batches).toHaveLength(Math.ceil(n / size));
      for (const b of batches) {
        expect(b.inputs.length).toBeGreaterThan(0);
        expect(b.inputs.length).toBeLessThanOrEqual(size);
        expect(b.inputs.length).toBeLessThanOrEqual(Limits.maxInputsPerMessage);
      }
    }
  });

  it("sends a small request (up to 16 inputs) as one message per input", () => {
    const batches = planInputBatches(head, 5, args(["a", "b", "c"]));
    expect(batches.map((b) => b.inputs.map((q) => q.idx))).toEqual([[5], [6], [7]]);
  });

  it("cuts a batch before it would exceed half of Limits.maxMessageBytes", () => {
    const big = "x".repeat(Math.floor(Limits.maxMessageBytes * 0.2));
    // 40 inputs: batches of up to 3 by count, but three 0.2-size inputs exceed half a message.
    const values = Array.from({ length: 40 }, () => big);
    expect(batchSizeFor(values.length)).toBe(3);
    const batches = planInputBatches(head, 0, args(values));
    for (const b of batches) {
      const bytes = b.inputs.reduce((s, q) => s + JSON.stringify(q.args).length, 0);
      expect(bytes).toBeLessThanOrEqual(Limits.maxMessageBytes / 2);
      expect(b.inputs.length).toBe(2);
    }
    expect(batches.flatMap((b) => b.inputs.map((q) => q.idx))).toEqual(values.map((_, i) => i));
  });

  it("sends an input larger than half a message alone", () => {
    const huge = "y".repeat(Math.floor(Limits.maxMessageBytes * 0.6));
    const values: unknown[] = Array.from({ length: 40 }, (_, i) => i);
    values[10] = huge;
    const batches = planInputBatches(head, 0, args(values));
    const withHuge = batches.filter((b) => b.inputs.some((q) => q.args === huge));
    expect(withHuge).toHaveLength(1);
    expect(withHuge[0].inputs.map((q) => q.idx)).toEqual([10]);
    expect(batches.flatMap((b) => b.inputs.map((q) => q.idx))).toEqual(values.map((_, i) => i));
  });
});

describe("containersToStart with concurrent inputs", () => {
  it("starts one container per maxInputs outstanding messages, rounding up", () => {
    expect(containersToStart(load({ outstandingBatches: 4, messagesPerContainer: 4 }))).toBe(1);
    expect(containersToStart(load({ outstandingBatches: 5, messagesPerContainer: 4 }))).toBe(2);
    expect(containersToStart(load({ outstandingBatches: 5, messagesPerContainer: 4, liveContainers: 2 }))).toBe(0);
  });
});
