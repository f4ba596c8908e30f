import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GpuOffer, GpuTypeSummary } from "./gpu-offer.ts";
import { parseVmCsv } from "./parse-vm-csv.ts";
import { summariseGpuTypes } from "./summarise-gpu-types.ts";

/** The catalog shipped in the repo (`regions/data/gpu-catalog`), resolved from this file. */
export const DEFAULT_GPU_CATALOG_DIR = fileURLToPath(new URL("../../data/gpu-catalog/", import.meta.url));

/** A cloud's file is `<cloud>-vms.csv`. */
const VM_FILE = /^([a-z0-9]+)-vms\.csv$/;

/** Every GPU offer of every cloud, with the per-type summary the core GPU table is generated from. */
export interface GpuCatalog {
  /** Offers of all clouds, in cloud order then file order. */
  readonly offers: ReadonlyArray<GpuOffer>;
  /** One entry per GPU type, sorted by name. */
  readonly gpuTypes: ReadonlyArray<GpuTypeSummary>;
  /** Clouds with a catalog file, sorted. */
  readonly clouds: ReadonlyArray<string>;
}

/**
 * Read every `<cloud>-vms.csv` in `dir` into {@link GpuOffer}s. Rows whose `GpuInfo` gives no
 * per-GPU memory (runpod) take it from the GPU type table.
 *
 * @example
 * ```ts
 * const { offers, gpuTypes } = loadGpuCatalog();
 * offers.filter((o) => o.cloud === "lambda" && o.gpuType === "H100").length; // 85
 * ```
 */
export const loadGpuCatalog = (dir: string = DEFAULT_GPU_CATALOG_DIR): GpuCatalog => {
  const files = readdirSync(dir).filter((f) => VM_FILE.test(f)).sort();
  const clouds = files.map((f) => VM_FILE.exec(f)![1]);
  const rows = files.flatMap((file, i) => parseVmCsv(clouds[i], readFileSync(join(dir, file), "utf8")));
  const gpuTypes = summariseGpuTypes(rows);
  const memoryOf = new Map(gpuTypes.map((t) => [t.name, t.memoryMiB]));
  const offers = rows.map((row): GpuOffer => ({ ...row, gpuMemoryMiB: row.gpuMemoryMiB ?? memoryOf.get(row.gpuType)! }));
  return { offers, gpuTypes, clouds };
};
