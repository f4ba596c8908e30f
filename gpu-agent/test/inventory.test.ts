import { describe, expect, it } from "vitest";
import type { CallForBids } from "@ferry/core/node";
import { BUNDLE_FETCH_ESTIMATE_MS, ColdStartEstimate, composeBid, WARM_START_MS } from "../src/inventory/compose-bid.ts";
import { InsufficientCapacityError, ResourceLedger } from "../src/inventory/gpu-allocator.ts";
import { gpuDeviceNodes, gpuTypeFromNvidiaName, MAX_SIMULATED_GPUS, parseNvidiaSmi, parseSimulatedGpus } from "../src/inventory/gpu-inventory.ts";

describe("GPU inventory", () => {
  it("a simulated inventory numbers devices in order across types", () => {
    const inv = parseSimulatedGpus("H100:2, L4");
    expect(inv.simulated).toBe(true);
    expect(inv.devices.map((d) => `${d.index}:${d.type}`)).toEqual(["0:H100", "1:H100", "2:L4"]);
  });

  it("refuses malformed or oversized simulated inventories", () => {
    expect(() => parseSimulatedGpus("H100:0")).toThrow(/invalid --gpus entry "H100:0"/);
    expect(() => parseSimulatedGpus("H100:x")).toThrow(/TYPE:COUNT/);
    expect(() => parseSimulatedGpus(`H100:${MAX_SIMULATED_GPUS + 1}`)).toThrow(/at most 64/);
  });

  it("reads nvidia-smi's CSV and maps marketing names to catalog names", () => {
    const inv = parseNvidiaSmi("0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA A100-SXM4-80GB, 81920\n2, NVIDIA A100-SXM4-40GB, 40960\n");
    expect(inv.simulated).toBe(false);
    expect(inv.devices.map((d) => d.type)).toEqual(["H100", "A100-80GB", "A100"]);
    expect(gpuTypeFromNvidiaName("NVIDIA L40S", 46068)).toBe("L40S");
    expect(gpuTypeFromNvidiaName("NVIDIA RTX A6000", 49140)).toBe("RTXA6000");
  });

  it("a container gets only its own GPUs' device nodes, and only those that exist", () => {
    const present = new Set(["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"]);
    expect(gpuDeviceNodes([1], (p) => present.has(p))).toEqual(["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"]);
    expect(gpuDeviceNodes([0], (p) => present.has(p))).toEqual(["/dev/nvidiactl", "/dev/nvidia-uvm"]);
  });
});

describe("ResourceLedger", () => {
  it("grants GPUs exclusively and frees them on release", () => {
    const ledger = new ResourceLedger({ cpu: 4, memoryMiB: 4096, gpuIndices: [0, 1, 2] });
    ledger.claim("a", { cpu: 1, memoryMiB: 1024, gpuIndices: [0, 2] });
    expect(ledger.free()).toEqual({ cpu: 3, memoryMiB: 3072, gpuIndices: [1] });
    expect(() => ledger.claim("b", { cpu: 1, memoryMiB: 1, gpuIndices: [2] })).toThrow(/gpu 2 already in use/);
    ledger.release("a");
    expect(ledger.free().gpuIndices).toEqual([0, 1, 2]);
  });

  it("refuses GPUs the node does not have, and CPU or memory beyond what is free", () => {
    const ledger = new ResourceLedger({ cpu: 2, memoryMiB: 1024, gpuIndices: [0, 1] });
    expect(() => ledger.claim("a", { cpu: 1, memoryMiB: 1, gpuIndices: [5] })).toThrow(InsufficientCapacityError);
    expect(() => ledger.claim("a", { cpu: 1, memoryMiB: 1, gpuIndices: [5] })).toThrow(/^insufficient capacity: gpu 5 not on this node/);
    expect(() => ledger.claim("a", { cpu: 3, memoryMiB: 1, gpuIndices: [] })).toThrow(/3 CPU asked, 2 free/);
    expect(() => ledger.claim("a", { cpu: 1, memoryMiB: 2048, gpuIndices: [] })).toThrow(/2048 MiB asked, 1024 free/);
    expect(ledger.containers).toBe(0);
  });
});

describe("composeBid", () => {
  const call: CallForBids = {
    auctionId: "au-1",
    demands: [
      { demandId: "", functionId: "fn-warm", bundleHash: "b1", cpu: 1, memoryMib: 128, gpu: [] },
      { demandId: "", functionId: "fn-cached", bundleHash: "b2", cpu: 1, memoryMib: 128, gpu: [] },
      { demandId: "", functionId: "fn-new", bundleHash: "b3", cpu: 1, memoryMib: 128, gpu: [] },
    ],
  };
  it("expects a warm function to start fastest, then a cached bundle, then one to fetch", () => {
    const bid = composeBid(call, {
      pricePerHour: 2.5, free: { cpu: 3, memoryMiB: 2048, gpuIndices: [1] }, runningContainers: 2, coldStartMs: 300,
      warmFunctions: new Set(["fn-warm"]), cachedBundles: new Set(["b2"]),
    });
    expect(bid.startLatencyMsByFunction).toEqual({ "fn-warm": WARM_START_MS, "fn-cached": 300, "fn-new": 300 + BUNDLE_FETCH_ESTIMATE_MS });
    expect(bid).toMatchObject({ auctionId: "au-1", pricePerHour: 2.5, freeCpu: 3, freeMemoryMib: 2048, freeGpuIndices: [1], runningContainers: 2 });
  });

  it("learns the node's cold start as a moving average", () => {
    const est = new ColdStartEstimate();
    est.observe(1000);
    expect(est.ms).toBe(1000);
    est.observe(0);
    expect(est.ms).toBe(700);
  });
});
