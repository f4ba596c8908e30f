import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { GPU_CATALOG_CLOUDS, GPU_TYPES } from "@ferry/core";
import { DEFAULT_GPU_CATALOG_DIR, loadGpuCatalog } from "../src/catalog/load-gpu-catalog.ts";
import { parseVmCsv } from "../src/catalog/parse-vm-csv.ts";
import type { GpuOffer } from "../src/catalog/gpu-offer.ts";
import { GPU_TYPES_MODULE_PATH, renderGpuTypesModule } from "../scripts/generate-gpu-types.ts";

const catalog = loadGpuCatalog();
const offersOf = (cloud: string): ReadonlyArray<GpuOffer> => catalog.offers.filter((o) => o.cloud === cloud);
const offer = (cloud: string, instanceType: string, cloudRegion: string, zone?: string): GpuOffer | undefined =>
  catalog.offers.find((o) => o.cloud === cloud && o.instanceType === instanceType && o.cloudRegion === cloudRegion && o.zone === zone);

describe("the catalog copy in the repo", () => {
  it("is byte for byte the published files listed in SOURCE.md", () => {
    const source = readFileSync(join(DEFAULT_GPU_CATALOG_DIR, "SOURCE.md"), "utf8");
    const listed = [...source.matchAll(/^\| `([a-z-]+\.csv)` .*\| `([0-9a-f]{64})` \|$/gm)];
    expect(listed.map((m) => m[1]).sort()).toEqual(["accelerators.csv", "cudo-vms.csv", "hyperbolic-vms.csv", "lambda-vms.csv", "nebius-vms.csv", "runpod-vms.csv"]);
    for (const [, file, sha256] of listed) {
      expect(createHash("sha256").update(readFileSync(join(DEFAULT_GPU_CATALOG_DIR, file))).digest("hex"), file).toBe(sha256);
    }
  });
});

describe("loadGpuCatalog", () => {
  it("reads every cloud's file and keeps only GPU rows", () => {
    expect(catalog.clouds).toEqual(["cudo", "hyperbolic", "lambda", "nebius", "runpod"]);
    // lambda: 22 GPU instance types in 17 regions; its 2 CPU types are skipped, as are nebius' CPU rows.
    expect(offersOf("lambda")).toHaveLength(22 * 17);
    expect(offersOf("nebius")).toHaveLength(21);
    expect(offersOf("cudo")).toHaveLength(156);
    expect(catalog.offers.some((o) => o.instanceType.startsWith("cpu"))).toBe(false);
    expect(catalog.offers.every((o) => o.gpuType !== "" && o.gpuCount >= 1)).toBe(true);
  });

  it("reads a lambda H100 row by column name, taking per-GPU memory from GpuInfo", () => {
    expect(offer("lambda", "gpu_1x_h100_pcie", "us-east-1")).toEqual({
      cloud: "lambda", instanceType: "gpu_1x_h100_pcie", gpuType: "H100", gpuCount: 1, gpuMemoryMiB: 81920,
      vCpus: 26, memoryGiB: 200, pricePerHour: 3.29, cloudRegion: "us-east-1",
    });
    expect(offer("lambda", "gpu_8x_h100_sxm5", "us-east-1")?.pricePerHour).toBe(31.92);
  });

  it("keeps lambda's per-GPU memory per GPU on multi-GPU nodes (its TotalGpuMemoryInMiB is per GPU too)", () => {
    expect(offer("lambda", "gpu_8x_a100", "us-east-1")?.gpuMemoryMiB).toBe(40960);
  });

  it("reads nebius spot prices where set, and none elsewhere", () => {
    expect(offer("nebius", "gpu-h100-sxm_8gpu-128vcpu-1600gb", "eu-north1")).toMatchObject({ pricePerHour: 23.6, spotPricePerHour: 10 });
    expect(offer("nebius", "gpu-h200-sxm_1gpu-16vcpu-200gb", "us-central1")).toMatchObject({ pricePerHour: 3.5, spotPricePerHour: 1.45 });
    expect(offer("nebius", "gpu-l40s-a_1gpu-8vcpu-32gb", "eu-north1")).not.toHaveProperty("spotPricePerHour");
    expect(offersOf("lambda").some((o) => o.spotPricePerHour !== undefined)).toBe(false);
  });

  it("keeps runpod's duplicated 2x_B200 rows once, one offer per zone", () => {
    const b200 = offersOf("runpod").filter((o) => o.instanceType === "2x_B200_SECURE");
    expect(b200).toHaveLength(25);
    expect(new Set(b200.map((o) => `${o.cloudRegion}/${o.zone}`)).size).toBe(25);
    // 2000 GPU rows in the file, 14 of them repeats.
    expect(offersOf("runpod")).toHaveLength(1986);
  });

  it("reads runpod's columns in its own order, with its zone, and memory from the GPU type table", () => {
    expect(offer("runpod", "1x_A100-80GB_SECURE", "CA", "CA-MTL-1")).toEqual({
      cloud: "runpod", instanceType: "1x_A100-80GB_SECURE", gpuType: "A100-80GB", gpuCount: 1, gpuMemoryMiB: 81920,
      vCpus: 8, memoryGiB: 80, pricePerHour: 1.64, spotPricePerHour: 1.19, cloudRegion: "CA", zone: "CA-MTL-1",
    });
    expect(offer("runpod", "1x_MI300X_SECURE", "US", "US-TX-3")?.gpuMemoryMiB).toBe(192 * 1024);
  });

  it("rounds cudo's float artifacts to 6 decimals", () => {
    expect(offer("cudo", "ice-lake-a40-compute_1x2v4gb", "ca-montreal-3")?.pricePerHour).toBe(0.3698); // 0.36979999999999996
    expect(offer("cudo", "intel-ice-lake-a100-pci_1x12v24gb", "us-carlsbad-1")?.pricePerHour).toBe(1.4904); // 1.4904000000000002
    for (const o of offersOf("cudo")) expect(Math.abs(o.pricePerHour * 1e6 - Math.round(o.pricePerHour * 1e6)), o.instanceType).toBeLessThan(1e-6);
  });

  it("reads hyperbolic's price past its extra StorageGiB column, in its one 'default' region", () => {
    expect(offersOf("hyperbolic")).toEqual([
      { cloud: "hyperbolic", instanceType: "1x-H100-75-722", gpuType: "H100", gpuCount: 1, gpuMemoryMiB: 81559, vCpus: 75, memoryGiB: 722, pricePerHour: 1.29, cloudRegion: "default" },
      { cloud: "hyperbolic", instanceType: "2x-H100-149-1443", gpuType: "H100", gpuCount: 2, gpuMemoryMiB: 81559, vCpus: 149, memoryGiB: 1443, pricePerHour: 2.58, cloudRegion: "default" },
      { cloud: "hyperbolic", instanceType: "3x-H100-224-2165", gpuType: "H100", gpuCount: 3, gpuMemoryMiB: 81559, vCpus: 224, memoryGiB: 2165, pricePerHour: 3.87, cloudRegion: "default" },
    ]);
  });
});

describe("parseVmCsv", () => {
  it("reads columns by header name whatever their order, with commas inside quoted fields", () => {
    const text = [
      `GpuInfo,Region,Price,InstanceType,SpotPrice,MemoryGiB,vCPUs,AcceleratorCount,AcceleratorName`,
      `"{'Gpus': [{'Name': 'L4', 'Count': 2, 'MemoryInfo': {'SizeInMiB': 24576}}], 'TotalGpuMemoryInMiB': 49152}",r1,0.5,box,0.2,32,8,2,L4`,
      `,r1,0.1,cpu-box,,16,4,,`,
    ].join("\r\n");
    expect(parseVmCsv("x", text)).toEqual([
      { cloud: "x", instanceType: "box", gpuType: "L4", gpuCount: 2, gpuMemoryMiB: 24576, vCpus: 8, memoryGiB: 32, pricePerHour: 0.5, spotPricePerHour: 0.2, cloudRegion: "r1" },
    ]);
  });

  it("refuses a file without a column it needs, naming it", () => {
    expect(() => parseVmCsv("x", "InstanceType,Price\nbox,1\n")).toThrow(/x catalog lacks columns AcceleratorName/);
  });
});

describe("the generated core GPU table", () => {
  it("is exactly what the generator produces from the catalog (rerun regions/scripts/generate-gpu-types.ts)", () => {
    expect(readFileSync(GPU_TYPES_MODULE_PATH, "utf8")).toBe(renderGpuTypesModule(catalog));
    expect(GPU_TYPES).toEqual(catalog.gpuTypes);
    expect(GPU_CATALOG_CLOUDS).toEqual(catalog.clouds);
  });

  it("records the largest node offered per type and the smallest memory any catalog reports", () => {
    const h100 = GPU_TYPES.find((t) => t.name === "H100");
    // hyperbolic reports 81559 MiB per H100, lambda and nebius 81920.
    expect(h100).toEqual({ name: "H100", memoryMiB: 81559, maxPerNode: 8, clouds: ["hyperbolic", "lambda", "nebius", "runpod"] });
    expect(GPU_TYPES.find((t) => t.name === "A6000")?.maxPerNode).toBe(4);
    expect(GPU_TYPES.find((t) => t.name === "GH200")?.maxPerNode).toBe(1);
  });

  it("agrees with accelerators.csv on which clouds sell each type", () => {
    const rows: Array<{ AcceleratorName: string; Clouds: string }> = parse(readFileSync(join(DEFAULT_GPU_CATALOG_DIR, "accelerators.csv"), "utf8"), { columns: true });
    const cloudsOf = new Map(rows.map((r) => [r.AcceleratorName, [...r.Clouds.matchAll(/'([^']+)'/g)].map((m) => m[1].toLowerCase())]));
    for (const t of GPU_TYPES) {
      for (const cloud of t.clouds) expect(cloudsOf.get(t.name), `${t.name} on ${cloud}`).toContain(cloud);
    }
  });
});
