import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { parseSimulatedGpus } from "@ferry/gpu-agent";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

/**
 * RDMA clusters: `cluster: { size, rdma }` gang-places all ranks on one fabric or none, gives each
 * rank its place, sends every input to every rank and returns rank 0's output.
 */

const CLUSTER_APP = join(REPO_ROOT, "test/fixtures/apps/cluster-app.ts");
type ClusterApp = typeof import("../fixtures/apps/cluster-app.ts");
interface MarketRow { source: string; agentId?: string; fabric?: string; available: number; gpuType: string }

describe("RDMA clusters", () => {
  let t: TestPlatform;
  let fns: ClusterApp;
  const gpuAgents = async () => (await t.client.request<{ regions: Array<{ offers: MarketRow[] }> }>("GET", "/v1/gpu/market"))
    .regions.flatMap((r) => r.offers).filter((o) => o.source === "agent" && o.gpuType === "H100");

  beforeAll(async () => {
    t = await startTestPlatform({ agents: 0 });
    // Two 8-GPU nodes on fabric A, one on fabric B: a cluster of 2 fits only on A.
    await t.platform.addAgent({ fabric: "fab-a", cloud: "lambda", gpus: parseSimulatedGpus("H100:8"), pricePerHour: 24 });
    await t.platform.addAgent({ fabric: "fab-b", cloud: "lambda", gpus: parseSimulatedGpus("H100:8"), pricePerHour: 10 });
    await t.platform.addAgent({ fabric: "fab-a", cloud: "lambda", gpus: parseSimulatedGpus("H100:8"), pricePerHour: 24 });
    const d = await t.deploy(CLUSTER_APP);
    fns = Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as ClusterApp;
  });
  afterAll(() => t?.stop());

  it("gang-places every rank on one fabric, each with all its GPUs, and returns rank 0's output", async () => {
    const call = await fns.train.spawn("hold");
    // While the input runs, the two fabric-A nodes are fully taken and the cheaper fabric-B node is untouched.
    const during = await (async () => {
      for (let i = 0; i < 50; i++) {
        const rows = await gpuAgents();
        if (rows.filter((r) => r.available === 0).length === 2) return rows;
        await new Promise((r) => setTimeout(r, 100));
      }
      return gpuAgents();
    })();
    expect(during.filter((r) => r.available === 0).map((r) => r.fabric)).toEqual(["fab-a", "fab-a"]);
    expect(during.find((r) => r.fabric === "fab-b")?.available).toBe(8);
    const r = (await call.get()) as Record<string, string>;
    expect(r).toMatchObject({ rank: "0", worldSize: "2", localRank: "0", masterAddr: "127.0.0.1", masterPort: "29500", gpu: "H100:8", cuda: "0,1,2,3,4,5,6,7" });
    expect(r.cluster).toMatch(/^cl-/);
  });

  it("every input reaches every rank: a rank that fails it fails the call", async () => {
    await expect(fns.train.remote("fail-on-rank-1")).rejects.toThrow(/rank 1 refused the input/);
    expect(await fns.train.remote("fine")).toMatchObject({ rank: "0" });
  });

  it("a cluster no single fabric can hold is refused with the reason, never split", async () => {
    await expect(fns.tooBig.remote("x")).rejects.toThrow(/a cluster of 3 × H100:8 cannot be placed: the largest RDMA fabric \(fab-a\) holds 2; a cluster is never split across fabrics/);
  });

  it("the ranks scale down together after the idle window", async () => {
    for (let i = 0; i < 100; i++) {
      const rows = await gpuAgents();
      if (rows.every((r) => r.available === 8)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await gpuAgents()).map((r) => r.available)).toEqual([8, 8, 8]);
  });
});
