import { describe, expect, it } from "vitest";
import { GPU_CATALOG_CLOUDS } from "@ferry/core";
import { loadGpuCatalog } from "../src/catalog/load-gpu-catalog.ts";
import {
  LocalProvider,
  nextAfterStockOut,
  rankQuotes,
  SimulatedCloudProvider,
  StockOutError,
  type CapacityRequest,
  type NodeLauncher,
  type Quote,
  type RankedQuote,
} from "../src/broker/providers/index.ts";

const { offers } = loadGpuCatalog();
const launchNode: NodeLauncher = async (spec) => ({ nodeId: spec.name, stop: async () => {} });
const clouds = GPU_CATALOG_CLOUDS.map((cloud) => new SimulatedCloudProvider({ cloud, offers, launchNode }));

/** Every cloud's quotes for a request, as the broker gathers them. */
const quotesFor = (request: CapacityRequest): ReadonlyArray<Quote> => clouds.flatMap((p) => p.quote(request));
const describeQuote = (q: Quote): string => `${q.cloud} ${q.cloudRegion}${q.zone ? `/${q.zone}` : ""} ${q.instanceType}`;

const small = { cpu: 4, memoryMiB: 16 * 1024 };

describe("rankQuotes", () => {
  it("puts the cheapest node of the first GPU choice first, across clouds", () => {
    const ranked = rankQuotes(quotesFor({ gpu: ["H100"], ...small }), { gpu: ["H100"] });
    // hyperbolic sells one H100 for 1.29/h, runpod for 2.39/h, nebius for 2.95/h, lambda for 3.29/h.
    expect(describeQuote(ranked[0])).toBe("hyperbolic default 1x-H100-75-722");
    expect(ranked[1]).toMatchObject({ cloud: "runpod", instanceType: "1x_H100_SECURE", pricePerHour: 2.39 });
    for (let i = 1; i < ranked.length; i++) expect(ranked[i].pricePerSecond).toBeGreaterThanOrEqual(ranked[i - 1].pricePerSecond);
  });

  it("tries every quote for a preferred GPU type before any for a fallback, whatever the price", () => {
    const gpu = ["H200", "A100-80GB"];
    const ranked = rankQuotes(quotesFor({ gpu, ...small }), { gpu });
    const firstFallback = ranked.findIndex((q) => q.gpuType === "A100-80GB");
    expect(ranked.slice(0, firstFallback).every((q) => q.gpuType === "H200" && q.gpuPreference === 0)).toBe(true);
    expect(ranked.slice(firstFallback).every((q) => q.gpuType === "A100-80GB" && q.gpuPreference === 1)).toBe(true);
    // runpod's A100-80GB (1.64/h) is cheaper than any H200 (3.50/h), yet comes after them.
    expect(ranked[0]).toMatchObject({ cloud: "nebius", instanceType: "gpu-h200-sxm_1gpu-16vcpu-200gb", pricePerHour: 3.5 });
    expect(ranked[firstFallback]).toMatchObject({ cloud: "runpod", instanceType: "1x_A100-80GB_SECURE", pricePerHour: 1.64 });
  });

  it("ranks by the whole node's price, so the smallest node that fits wins", () => {
    const two = rankQuotes(quotesFor({ gpu: ["H100:2"], ...small }), { gpu: ["H100:2"], clouds: ["lambda"] });
    expect(two[0]).toMatchObject({ instanceType: "gpu_2x_h100_sxm5", gpuCount: 2, pricePerHour: 8.38 });
    expect(two.some((q) => q.gpuCount < 2)).toBe(false);
    // lambda sells A100-80GB only eight to a node: a container needing two gets (and pays for) eight.
    const a100 = rankQuotes(quotesFor({ gpu: ["A100-80GB:2"], ...small }), { gpu: ["A100-80GB:2"], clouds: ["lambda"] });
    expect(a100[0]).toMatchObject({ instanceType: "gpu_8x_a100_80gb_sxm4", gpuCount: 8, pricePerHour: 22.32 });
  });

  it("never yields another cloud's quote under a cloud constraint, in any case spelling", () => {
    const quotes = quotesFor({ gpu: ["H100"], ...small });
    const ranked = rankQuotes(quotes, { gpu: ["H100"], clouds: ["Lambda", "NEBIUS"] });
    expect(ranked.length).toBeGreaterThan(0);
    expect(new Set(ranked.map((q) => q.cloud))).toEqual(new Set(["lambda", "nebius"]));
    // cudo sells H100-SXM, not H100: nothing, rather than another cloud's H100.
    expect(rankQuotes(quotes, { gpu: ["H100"], clouds: ["cudo"] })).toEqual([]);
  });

  it("keeps only quotes in the allowed cloud regions or zones", () => {
    const quotes = quotesFor({ gpu: ["H100"], ...small });
    const ranked = rankQuotes(quotes, { gpu: ["H100"], cloudRegions: ["us-east-1", "US-TX-3"] });
    expect(new Set(ranked.map((q) => `${q.cloud} ${q.zone ?? q.cloudRegion}`))).toEqual(new Set(["lambda us-east-1", "runpod US-TX-3"]));
  });

  it("breaks a price tie by the shorter provisioning delay", () => {
    const slowUs = new SimulatedCloudProvider({ cloud: "runpod", offers, launchNode, provisionDelayMs: (o) => (o.cloudRegion === "CA" ? 300_000 : 60_000) });
    const ranked = rankQuotes(slowUs.quote({ gpu: ["H100"], ...small }), { gpu: ["H100"] });
    // Every runpod 1x_H100 costs 2.39/h; CA sorts first by name but is slower to provision.
    expect(ranked[0]).toMatchObject({ instanceType: "1x_H100_SECURE", provisionDelayMs: 60_000 });
    expect(ranked.filter((q) => q.instanceType === "1x_H100_SECURE").at(-1)).toMatchObject({ cloudRegion: "CA", provisionDelayMs: 300_000 });
  });

  it("prefers a free local node over any cloud for the same GPU preference", () => {
    const local = new LocalProvider({ launchNode, machine: { vCpus: 16, memoryMiB: 65_536 }, simulatedGpus: ["H100:8"] });
    const ranked = rankQuotes([...quotesFor({ gpu: ["H100"], ...small }), ...local.quote({ gpu: ["H100"], ...small })], { gpu: ["H100"] });
    expect(ranked[0]).toMatchObject({ cloud: "local", instanceType: "local-H100x8" });
  });

  it("matches a CPU request only to CPU nodes", () => {
    const local = new LocalProvider({ launchNode, machine: { vCpus: 16, memoryMiB: 65_536 }, simulatedGpus: ["H100:8"] });
    const all = [...local.quote({ gpu: [], ...small }), ...local.quote({ gpu: ["H100"], ...small })];
    expect(rankQuotes(all, { gpu: [] }).map((q) => q.instanceType)).toEqual(["local-cpu"]);
  });
});

describe("nextAfterStockOut", () => {
  const gpu = ["H100", "A100-80GB"];
  const ranked = rankQuotes(quotesFor({ gpu, ...small }), { gpu });
  const failed = ranked.find((q) => q.cloud === "runpod" && q.zone === "US-TX-3" && q.instanceType === "1x_H100_SECURE")!;
  const next = nextAfterStockOut(ranked, failed);

  /** 0 another zone of the region, 1 same zone other type, 2 another region of the cloud, 3 another cloud. */
  const step = (q: RankedQuote): number =>
    q.cloud !== failed.cloud ? 3 : q.cloudRegion !== failed.cloudRegion ? 2 : q.zone === failed.zone ? 1 : 0;

  it("drops the failed offer and keeps every other one", () => {
    expect(next).toHaveLength(ranked.length - 1);
    expect(next).not.toContainEqual(failed);
  });

  it("tries another zone of the same region first, at the same price", () => {
    expect(next[0]).toMatchObject({ cloud: "runpod", cloudRegion: "US", instanceType: "1x_H100_SECURE" });
    expect(next[0].zone).not.toBe("US-TX-3");
  });

  it("goes zone, then other instance types in the zone, then region, then cloud, within each GPU choice", () => {
    const h100 = next.filter((q) => q.gpuPreference === 0).map(step);
    expect(h100).toEqual([...h100].sort((a, b) => a - b));
    expect(new Set(h100)).toEqual(new Set([0, 1, 2, 3]));
    const sameZone = next.filter((q) => q.gpuPreference === 0 && step(q) === 1);
    expect(sameZone.map((q) => `${q.zone} ${q.instanceType}`)).toEqual(["US-TX-3 2x_H100_SECURE", "US-TX-3 4x_H100_SECURE", "US-TX-3 8x_H100_SECURE"]);
    // the first other-cloud H100 is the cheapest one: hyperbolic's.
    expect(next.find((q) => step(q) === 3)).toMatchObject({ cloud: "hyperbolic", instanceType: "1x-H100-75-722" });
  });

  it("never lets a fallback GPU type jump ahead of the wanted type available elsewhere", () => {
    const lastH100 = next.findLastIndex((q) => q.gpuType === "H100");
    const firstA100 = next.findIndex((q) => q.gpuType === "A100-80GB");
    expect(lastH100).toBeLessThan(firstA100);
    // within the fallback, runpod (the failed cloud) still comes before lambda.
    expect(next[firstA100].cloud).toBe("runpod");
  });

  it("on a cloud without zones, moves to another instance type of the region, then another region", () => {
    const lambda = rankQuotes(quotesFor({ gpu: ["H100"], ...small }), { gpu: ["H100"], clouds: ["lambda"] });
    const pcieEast = lambda.find((q) => q.instanceType === "gpu_1x_h100_pcie" && q.cloudRegion === "us-east-1")!;
    const after = nextAfterStockOut(lambda, new StockOutError(pcieEast));
    expect(after.slice(0, 4).map(describeQuote)).toEqual([
      "lambda us-east-1 gpu_1x_h100_sxm5",
      "lambda us-east-1 gpu_2x_h100_sxm5",
      "lambda us-east-1 gpu_4x_h100_sxm5",
      "lambda us-east-1 gpu_8x_h100_sxm5",
    ]);
    expect(after[4]).toMatchObject({ instanceType: "gpu_1x_h100_pcie", cloudRegion: "asia-northeast-1" });
  });

  it("fails over across repeated stock-outs until a provider has stock", async () => {
    const runpod = new SimulatedCloudProvider({ cloud: "runpod", offers, launchNode, stockOuts: [{ cloudRegion: "US" }] });
    let candidates = rankQuotes(runpod.quote({ gpu: ["H100"], ...small, cloudRegions: ["US", "CA"] }), { gpu: ["H100"] });
    candidates = nextAfterStockOut(candidates, candidates.find((q) => q.cloudRegion === "US")!); // start from a US failure
    const tried: Array<string> = [];
    for (;;) {
      try {
        const node = await runpod.provision(candidates[0]);
        tried.push(`ok ${node.quote.cloudRegion}`);
        break;
      } catch (error) {
        if (!(error instanceof StockOutError)) throw error;
        tried.push(`out ${error.cloudRegion}`);
        candidates = nextAfterStockOut(candidates, error);
      }
    }
    // every US quote (other zones, then other types) fails before the broker leaves the region for CA.
    expect(tried.at(-1)).toBe("ok CA");
    expect(tried.slice(0, -1).every((t) => t === "out US")).toBe(true);
    expect(tried).toHaveLength(14 * 4);
  });
});
