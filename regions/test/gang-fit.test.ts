import { describe, expect, it } from "vitest";
import { containersFitting, explainGangNoFit, gangGroupsWithRoom, type GangNode } from "../src/scheduler/gang-fit.ts";

const node = (agentId: string, fabric: string, gpus: number, freeGpus = gpus): GangNode => ({
  agentId, fabric, totalCpu: 32, totalMemoryMiB: 65_536, allGpus: Array(gpus).fill("H100"),
  freeCpu: 32, freeMemoryMiB: 65_536, freeGpus: Array(freeGpus).fill("H100"),
});
const h100x8 = { cpu: 1, memoryMiB: 1024, gpu: ["H100:8"] };

describe("gang placement", () => {
  it("counts how many containers fit by the scarcest resource and the first GPU spec that fits", () => {
    expect(containersFitting({ cpu: 4, memoryMiB: 1024, gpu: [] }, 10, 100_000, [])).toBe(2);
    expect(containersFitting({ cpu: 1, memoryMiB: 1024, gpu: ["B200", "H100:2"] }, 32, 65_536, Array(5).fill("H100"))).toBe(2);
    expect(containersFitting({ cpu: 1, memoryMiB: 1024, gpu: ["any:4"] }, 32, 65_536, ["A100", "A100", "H100", "H100", "H100", "H100"])).toBe(1);
  });

  it("offers only fabrics that hold the whole cluster now, roomiest first; nodes without a fabric never join an RDMA cluster", () => {
    const nodes = [node("a1", "fab-a", 8), node("a2", "fab-a", 8), node("b1", "fab-b", 8), node("x", "", 8), node("a3", "fab-a", 8, 0)];
    expect(gangGroupsWithRoom(nodes, { request: h100x8, size: 2, rdma: true }).map((g) => [...g])).toEqual([["a1", "a2", "a3"]]);
    expect(gangGroupsWithRoom(nodes, { request: h100x8, size: 3, rdma: true })).toEqual([]);
    // Without RDMA the whole region is one group.
    expect(gangGroupsWithRoom(nodes, { request: h100x8, size: 4, rdma: false }).map((g) => g.size)).toEqual([5]);
  });

  it("explains a cluster that can never be placed, and is silent when one could be once busy nodes free up", () => {
    const nodes = [node("a1", "fab-a", 8, 0), node("a2", "fab-a", 8, 0), node("b1", "fab-b", 8)];
    expect(explainGangNoFit(nodes, { request: h100x8, size: 2, rdma: true })).toBeUndefined();
    expect(explainGangNoFit(nodes, { request: h100x8, size: 3, rdma: true }))
      .toBe("a cluster of 3 × H100:8 cannot be placed: the largest RDMA fabric (fab-a) holds 2; a cluster is never split across fabrics or regions");
    expect(explainGangNoFit([node("x", "", 8)], { request: h100x8, size: 1, rdma: true })).toMatch(/needs RDMA, and no agent in this region is on an RDMA fabric/);
  });
});
