import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fixtures/wait-for.ts";
import { parseSimulatedGpus } from "@ferry/gpu-agent";
import { runCli, startTestPlatform, REPO_ROOT, type TestPlatform } from "../fixtures/platform.ts";
import { join } from "node:path";

/**
 * GPU functions placed by auction among agents with simulated GPU inventories (`--gpus`), in
 * several clouds at different prices, on the real local platform.
 */

const GPU_APP = join(REPO_ROOT, "test/fixtures/apps/gpu-app.ts");
type GpuApp = typeof import("../fixtures/apps/gpu-app.ts");
interface Where { gpu: string; cuda: string; nvidia: string; cloud: string; container: string }
interface UsageLine { keys: Record<string, string>; containerSeconds: number; gpuSeconds: number; costUsd: number }
interface MarketRow { source: string; cloud: string; gpuType: string; pricePerHour: number; available: number; agentId?: string; reputation?: number }

const handles = async (t: TestPlatform): Promise<GpuApp> => {
  const d = await t.deploy(GPU_APP);
  return Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as GpuApp;
};


describe("GPU placement by auction", () => {
  let t: TestPlatform;
  let fns: GpuApp;
  beforeAll(async () => {
    t = await startTestPlatform({ agents: 0 });
    await t.platform.addAgent();
    await t.platform.addAgent({ cloud: "lambda", gpus: parseSimulatedGpus("H100:4"), pricePerHour: 12 });
    await t.platform.addAgent({ cloud: "runpod", gpus: parseSimulatedGpus("H100:4"), pricePerHour: 8 });
    await t.platform.addAgent({ cloud: "cudo", gpus: parseSimulatedGpus("A100-80GB:2"), pricePerHour: 3 });
    fns = await handles(t);
  });
  afterAll(() => t?.stop());

  it("two H100:2 containers at once get disjoint GPU pairs on the cheapest node that has them", async () => {
    const [a, b] = (await Promise.all([fns.twoH100.remote(1_000), fns.twoH100.remote(1_000)])) as Where[];
    expect(a!.container).not.toBe(b!.container);
    for (const r of [a!, b!]) {
      expect(r.cloud).toBe("runpod");
      expect(r.gpu).toBe("H100:2");
      expect(r.nvidia).toBe(r.cuda);
      expect(r.cuda.split(",")).toHaveLength(2);
    }
    const all = [...a!.cuda.split(","), ...b!.cuda.split(",")].sort();
    expect(all).toEqual(["0", "1", "2", "3"]);
  });

  it("a cloud constraint is honoured over a cheaper offer elsewhere", async () => {
    const r = (await fns.onLambda.remote(0)) as Where;
    expect(r).toMatchObject({ cloud: "lambda", gpu: "H100:1" });
  });

  it("a fallback list takes the first GPU type a node offers", async () => {
    expect(await fns.fallback.remote(0)).toMatchObject({ cloud: "cudo", gpu: "A100-80GB:1" });
  });

  it("\"any\" takes a GPU of any type, and a CPU function gets none", async () => {
    expect(((await fns.anyGpu.remote(0)) as Where).gpu).toMatch(/^(H100|A100-80GB):1$/);
    expect(await fns.cpuOnly.remote(0)).toMatchObject({ gpu: "", cuda: "", nvidia: "" });
  });

  it("every container-second is metered with its GPU type, cloud and price", async () => {
    const lines = await waitFor("H100 usage to be metered", async () => {
      const r = await t.client.request<{ lines: UsageLine[] }>("GET", "/v1/usage?by=gpu,cloud");
      const h100 = r.lines.find((l) => l.keys.gpu === "H100" && l.keys.cloud === "runpod");
      // Containers scale down one second after their input; their last interval is then written.
      return h100 && h100.gpuSeconds >= 4 ? r.lines : undefined;
    });
    const h100 = lines.find((l) => l.keys.gpu === "H100" && l.keys.cloud === "runpod")!;
    // Two containers held 2 of the node's 4 GPUs each for at least a second: half the node each.
    expect(h100.gpuSeconds).toBeCloseTo(h100.containerSeconds * 2, 5);
    expect(h100.costUsd).toBeGreaterThan(0);
    expect(h100.costUsd).toBeLessThanOrEqual((h100.containerSeconds * 8) / 3600 / 2 + 1e-9);
    const cli = await runCli(["usage", "--by", "gpu,cloud", "--json"], t.env);
    expect(cli.code).toBe(0);
    const fromCli = JSON.parse(cli.stdout) as { lines: UsageLine[] };
    expect(fromCli.lines.some((l) => l.keys.gpu === "H100" && l.keys.cloud === "runpod")).toBe(true);
  });

  it("ferry usage refuses a window it cannot read, naming the flag's format", async () => {
    const r = await runCli(["usage", "--since", "last tuesday"], t.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/query\.since: expected a window like 7d/);
  });

  it("ferry gpu market shows the agents' offers with their prices", async () => {
    const r = await runCli(["gpu", "market", "--json"], t.env);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as MarketRow[];
    const runpod = rows.find((o) => o.source === "agent" && o.cloud === "runpod" && o.gpuType === "H100");
    expect(runpod).toMatchObject({ pricePerHour: 8 });
    expect(rows.find((o) => o.source === "agent" && o.cloud === "cudo")).toMatchObject({ gpuType: "A100-80GB", pricePerHour: 3 });
  });
});

describe("an agent that bids on GPUs it lacks", () => {
  let t: TestPlatform;
  let fns: GpuApp;
  beforeAll(async () => {
    t = await startTestPlatform({ agents: 0 });
    // Cheaper, so it wins the first auction, but none of its GPUs can really be used.
    await t.platform.addAgent({ cloud: "runpod", gpus: parseSimulatedGpus("H100:8"), pricePerHour: 20, faults: { usableGpus: 0 } });
    await t.platform.addAgent({ cloud: "lambda", gpus: parseSimulatedGpus("H100:8"), pricePerHour: 30 });
    fns = await handles(t);
  });
  afterAll(() => t?.stop());

  it("is caught when its start fails, loses standing, and the call runs on an honest node", async () => {
    const r = (await fns.oneH100.remote(0)) as Where;
    expect(r).toMatchObject({ cloud: "lambda", gpu: "H100:1" });
    const market = JSON.parse((await runCli(["gpu", "market", "--json"], t.env)).stdout) as MarketRow[];
    const liar = market.find((o) => o.source === "agent" && o.cloud === "runpod");
    const honest = market.find((o) => o.source === "agent" && o.cloud === "lambda");
    expect(liar?.reputation).toBeLessThan(1);
    expect(honest?.reputation).toBe(1);
  });
});

describe("deploy-time checks of where a function may run", () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform({ agents: 0 });
  });
  afterAll(() => t?.stop());

  const deployWith = (options: Record<string, unknown>) => t.client.request("POST", "/v1/apps", {
    name: "bad-placement", mode: "ephemeral", bundle: btoa("export {};"), functions: [{ name: "f", options }],
  });

  it("an unknown GPU type is refused, naming the closest known types", async () => {
    await expect(deployWith({ gpu: "H101" })).rejects.toThrow(/body\.functions\[0\]\.options\.gpu: gpu "H101": unknown GPU type "H101"; closest known types: H100/);
  });

  it("a GPU count above what any node in any catalog offers is refused, naming the maximum", async () => {
    await expect(deployWith({ gpu: ["A100-80GB", "H100:9"] })).rejects.toThrow(/gpu "H100:9": at most 8 H100 fit on one node/);
  });

  it("an unknown cloud and an unknown region are refused, naming what exists", async () => {
    await expect(deployWith({ cloud: "lamda" })).rejects.toThrow(/options\.cloud: unknown cloud "lamda" \(did you mean lambda\?\)/);
    await expect(deployWith({ region: ["local", "mars"] })).rejects.toThrow(/options\.region: no region named "mars"; regions: local/);
  });

  it("minContainers above maxContainers is refused", async () => {
    await expect(deployWith({ minContainers: 3, maxContainers: 2 })).rejects.toThrow(/minContainers: 3 is above maxContainers 2/);
  });

  it("GPU types and clouds are stored in their canonical spelling", async () => {
    await t.client.request("POST", "/v1/apps", {
      name: "good-placement", mode: "deployed", bundle: btoa("export {};"), functions: [{ name: "f", options: { gpu: "h100:2", cloud: "Lambda", region: "local" } }],
    });
    const fn = await t.client.request<{ options: { gpu: string; cloud: string[] } }>("GET", "/v1/functions/lookup?app=good-placement&name=f");
    expect(fn.options).toMatchObject({ gpu: "H100:2", cloud: ["lambda"], region: "local" });
  });
});
