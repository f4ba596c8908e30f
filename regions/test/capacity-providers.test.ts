import { describe, expect, it } from "vitest";
import { loadGpuCatalog } from "../src/catalog/load-gpu-catalog.ts";
import {
  defaultLocalShapes,
  LocalProvider,
  SimulatedCloudProvider,
  StockOutError,
  type NodeLauncher,
  type NodeLaunchSpec,
  type Quote,
} from "../src/broker/providers/index.ts";

const { offers } = loadGpuCatalog();

/** The injected launcher: records what it was asked to start and stop. */
const recordingLauncher = () => {
  const started: Array<NodeLaunchSpec> = [];
  const stopped: Array<string> = [];
  const launchNode: NodeLauncher = async (spec) => {
    started.push(spec);
    return { nodeId: spec.name, stop: async () => void stopped.push(spec.name) };
  };
  return { launchNode, started, stopped };
};

const h100Request = { gpu: ["H100"], cpu: 8, memoryMiB: 32 * 1024 };

const find = (quotes: ReadonlyArray<Quote>, instanceType: string, cloudRegion: string, zone?: string): Quote => {
  const q = quotes.find((x) => x.instanceType === instanceType && x.cloudRegion === cloudRegion && x.zone === zone);
  if (!q) throw new Error(`no quote ${instanceType} ${cloudRegion} ${zone}`);
  return q;
};

describe("SimulatedCloudProvider", () => {
  it("says it is simulated, and quotes only its own cloud's catalog offers", () => {
    const lambda = new SimulatedCloudProvider({ cloud: "lambda", offers, launchNode: recordingLauncher().launchNode });
    expect(lambda.name).toBe("lambda");
    expect(lambda.kind).toBe("simulated-cloud");
    const quotes = lambda.quote(h100Request);
    expect(quotes.length).toBeGreaterThan(0);
    expect(quotes.every((q) => q.cloud === "lambda" && q.gpuType === "H100" && q.simulated)).toBe(true);
  });

  it("prices a quote from the catalog, per second, with the node's shape in MiB", () => {
    const lambda = new SimulatedCloudProvider({ cloud: "lambda", offers, launchNode: recordingLauncher().launchNode, provisionDelayMs: 90_000 });
    expect(find(lambda.quote(h100Request), "gpu_1x_h100_pcie", "us-east-1")).toEqual({
      cloud: "lambda", cloudRegion: "us-east-1", instanceType: "gpu_1x_h100_pcie", gpuType: "H100", gpuCount: 1,
      vCpus: 26, memoryMiB: 200 * 1024, pricePerHour: 3.29, pricePerSecond: 3.29 / 3600, provisionDelayMs: 90_000, simulated: true,
    });
  });

  it("quotes only offers with enough GPUs, CPUs and memory, within the asked cloud regions", () => {
    const runpod = new SimulatedCloudProvider({ cloud: "runpod", offers, launchNode: recordingLauncher().launchNode });
    const quotes = runpod.quote({ gpu: ["H100:2"], cpu: 40, memoryMiB: 100 * 1024, cloudRegions: ["US"] });
    // 2x_H100_SECURE has 32 vCPUs: too few. 4x and 8x fit, in runpod's 14 US zones.
    expect(new Set(quotes.map((q) => q.instanceType))).toEqual(new Set(["4x_H100_SECURE", "8x_H100_SECURE"]));
    expect(quotes).toHaveLength(2 * 14);
    expect(quotes.every((q) => q.cloudRegion === "US")).toBe(true);
    expect(runpod.quote({ ...h100Request, cloudRegions: ["us-tx-3"] }).map((q) => q.zone)).toEqual(["US-TX-3", "US-TX-3", "US-TX-3", "US-TX-3"]);
  });

  it("quotes nothing for a CPU-only container: its catalog holds GPU nodes only", () => {
    const nebius = new SimulatedCloudProvider({ cloud: "nebius", offers, launchNode: recordingLauncher().launchNode });
    expect(nebius.quote({ gpu: [], cpu: 1, memoryMiB: 512 })).toEqual([]);
  });

  it("provisions through the injected launcher after the offer's delay, with the agent's flags", async () => {
    const launcher = recordingLauncher();
    const waited: Array<number> = [];
    const lambda = new SimulatedCloudProvider({
      cloud: "lambda", offers, launchNode: launcher.launchNode,
      provisionDelayMs: (o) => (o.gpuCount >= 8 ? 300_000 : 60_000),
      sleep: async (ms) => void waited.push(ms),
    });
    const quote = find(lambda.quote(h100Request), "gpu_8x_h100_sxm5", "us-west-1");
    expect(quote.provisionDelayMs).toBe(300_000);
    const node = await lambda.provision(quote);
    expect(waited).toEqual([300_000]);
    expect(launcher.started).toEqual([{
      name: node.nodeId, cloud: "lambda", cloudRegion: "us-west-1", instanceType: "gpu_8x_h100_sxm5", gpus: "H100:8",
      vCpus: 208, memoryMiB: 1800 * 1024, pricePerHour: 31.92, simulated: true,
    }]);
    expect(node.quote).toEqual(quote);
    expect(lambda.nodeIds).toEqual([node.nodeId]);
  });

  it("rejects provisioning a stocked-out offer with a StockOutError naming where, without launching", async () => {
    const launcher = recordingLauncher();
    const runpod = new SimulatedCloudProvider({ cloud: "runpod", offers, launchNode: launcher.launchNode, stockOuts: [{ zone: "US-TX-3" }] });
    const quote = find(runpod.quote(h100Request), "1x_H100_SECURE", "US", "US-TX-3");
    const error = await runpod.provision(quote).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StockOutError);
    expect(error).toMatchObject({ name: "StockOutError", cloud: "runpod", cloudRegion: "US", zone: "US-TX-3", instanceType: "1x_H100_SECURE" });
    expect((error as StockOutError).message).toBe("runpod has no 1x_H100_SECURE in stock in US/US-TX-3");
    expect(launcher.started).toEqual([]);
    // Another zone of the same region still has stock.
    await expect(runpod.provision(find(runpod.quote(h100Request), "1x_H100_SECURE", "US", "US-TX-4"))).resolves.toMatchObject({ quote: { zone: "US-TX-4" } });
  });

  it("changes stock at run time: rules and predicates, marked and lifted", async () => {
    const lambda = new SimulatedCloudProvider({ cloud: "lambda", offers, launchNode: recordingLauncher().launchNode });
    const quote = find(lambda.quote(h100Request), "gpu_1x_h100_pcie", "us-east-1");
    expect(lambda.isOutOfStock(quote)).toBe(false);
    lambda.markOutOfStock({ instanceType: "GPU_1X_H100_PCIE" });
    await expect(lambda.provision(quote)).rejects.toBeInstanceOf(StockOutError);
    lambda.restock({ instanceType: "GPU_1X_H100_PCIE" });
    expect(lambda.isOutOfStock(quote)).toBe(false);
    const eastOnly = (at: { cloudRegion: string }) => at.cloudRegion.startsWith("us-east");
    lambda.markOutOfStock(eastOnly);
    expect(lambda.isOutOfStock(quote)).toBe(true);
    expect(lambda.isOutOfStock(find(lambda.quote(h100Request), "gpu_1x_h100_pcie", "us-west-1"))).toBe(false);
    lambda.restock();
    await expect(lambda.provision(quote)).resolves.toMatchObject({ quote: { cloudRegion: "us-east-1" } });
  });

  it("refuses a quote from another cloud", async () => {
    const lambda = new SimulatedCloudProvider({ cloud: "lambda", offers, launchNode: recordingLauncher().launchNode });
    const nebius = new SimulatedCloudProvider({ cloud: "nebius", offers, launchNode: recordingLauncher().launchNode });
    await expect(lambda.provision(nebius.quote(h100Request)[0])).rejects.toThrow(/simulated lambda has no offer/);
  });

  it("terminates a node by stopping it through the launcher, once", async () => {
    const launcher = recordingLauncher();
    const lambda = new SimulatedCloudProvider({ cloud: "lambda", offers, launchNode: launcher.launchNode });
    const node = await lambda.provision(lambda.quote(h100Request)[0]);
    await lambda.terminate(node.nodeId);
    await lambda.terminate(node.nodeId);
    expect(launcher.stopped).toEqual([node.nodeId]);
    expect(lambda.nodeIds).toEqual([]);
  });
});

describe("LocalProvider", () => {
  const machine = { vCpus: 16, memoryMiB: 64 * 1024 };

  it("offers this machine as one free CPU node by default, plus simulated GPU shapes when asked", () => {
    expect(defaultLocalShapes(machine, ["h100:8"])).toEqual([
      { instanceType: "local-cpu", vCpus: 16, memoryMiB: 65536 },
      { instanceType: "local-H100x8", vCpus: 16, memoryMiB: 65536, gpus: "H100:8" },
    ]);
    const local = new LocalProvider({ launchNode: recordingLauncher().launchNode, machine, simulatedGpus: ["H100:8"] });
    expect(local.name).toBe("local");
    expect(local.kind).toBe("local");
    expect(local.quote({ gpu: [], cpu: 2, memoryMiB: 1024 })).toMatchObject([
      { cloud: "local", cloudRegion: "local", instanceType: "local-cpu", gpuCount: 0, pricePerSecond: 0, simulated: false },
    ]);
    expect(local.quote({ gpu: ["H100:2"], cpu: 2, memoryMiB: 1024 })).toMatchObject([
      { instanceType: "local-H100x8", gpuType: "H100", gpuCount: 8, pricePerSecond: 0, simulated: true },
    ]);
    expect(local.quote({ gpu: [], cpu: 32, memoryMiB: 1024 })).toEqual([]);
  });

  it("sizes the default CPU shape from the machine it runs on", () => {
    const [cpu] = new LocalProvider({ launchNode: recordingLauncher().launchNode }).quote({ gpu: [], cpu: 0.125, memoryMiB: 128 });
    expect(cpu.vCpus).toBeGreaterThanOrEqual(1);
    expect(cpu.memoryMiB).toBeGreaterThan(128);
  });

  it("charges a configured price and provisions through the same launcher", async () => {
    const launcher = recordingLauncher();
    const local = new LocalProvider({ launchNode: launcher.launchNode, machine, simulatedGpus: ["A100-80GB:4"], pricePerHour: 0.36 });
    const [quote] = local.quote({ gpu: ["A100-80GB"], cpu: 1, memoryMiB: 512 });
    expect(quote.pricePerSecond).toBeCloseTo(0.0001, 10);
    const node = await local.provision(quote);
    expect(launcher.started).toEqual([{
      name: node.nodeId, cloud: "local", cloudRegion: "local", instanceType: "local-A100-80GBx4", gpus: "A100-80GB:4",
      vCpus: 16, memoryMiB: 65536, pricePerHour: 0.36, simulated: true,
    }]);
    await local.terminate(node.nodeId);
    expect(launcher.stopped).toEqual([node.nodeId]);
  });

  it("gives each node it starts its own id", async () => {
    const local = new LocalProvider({ launchNode: recordingLauncher().launchNode, machine });
    const [quote] = local.quote({ gpu: [], cpu: 1, memoryMiB: 512 });
    const a = await local.provision(quote);
    const b = await local.provision(quote);
    expect(a.nodeId).not.toBe(b.nodeId);
    expect(local.nodeIds).toEqual([a.nodeId, b.nodeId]);
  });
});
