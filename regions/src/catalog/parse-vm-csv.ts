import { parse } from "csv-parse/sync";
import type { GpuOffer } from "./gpu-offer.ts";

/** Prices are rounded to this many decimals, which removes float artifacts like `0.36979999999999996`. */
export const PRICE_DECIMALS = 6;

/** Columns every VM catalog has; files order them differently, so they are read by name. */
const REQUIRED_COLUMNS = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price", "Region", "GpuInfo", "SpotPrice"] as const;

/** A parsed row before per-GPU memory is filled in from other rows for catalogs that omit it. */
export type CatalogRow = Omit<GpuOffer, "gpuMemoryMiB"> & { readonly gpuMemoryMiB?: number };

/** Per-GPU memory inside a `GpuInfo` dict; `TotalGpuMemoryInMiB` is not used, since lambda's is per GPU too. */
const SIZE_IN_MIB = /'SizeInMiB':\s*(\d+)/;

const roundPrice = (price: number): number => {
  const scale = 10 ** PRICE_DECIMALS;
  return Math.round(price * scale) / scale;
};

const numberIn = (record: Record<string, string>, column: string, where: string): number => {
  const text = record[column]?.trim() ?? "";
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw new Error(`${where}: column ${column} is not a number: "${text}"`);
  return value;
};

/**
 * Per-GPU memory from a `GpuInfo` cell: a python-dict-like string in most catalogs, a plain GPU
 * name (no memory) in runpod's. `undefined` when the cell says nothing about memory.
 *
 * @example
 * ```ts
 * gpuMemoryFromGpuInfo("{'Gpus': [{'Name': 'A10', 'MemoryInfo': {'SizeInMiB': 24576}}], 'TotalGpuMemoryInMiB': 24576}"); // 24576
 * gpuMemoryFromGpuInfo("A100-80GB"); // undefined
 * ```
 */
export const gpuMemoryFromGpuInfo = (gpuInfo: string): number | undefined => {
  const match = SIZE_IN_MIB.exec(gpuInfo);
  return match ? Number(match[1]) : undefined;
};

/**
 * Parse one cloud's SkyPilot `vms.csv` into GPU offers: columns by header name, quoted fields
 * with commas handled, CPU-only rows skipped, exact duplicate rows kept once, prices rounded to
 * {@link PRICE_DECIMALS} decimals, empty `SpotPrice` left out. An `AvailabilityZone` column,
 * where present (runpod), becomes `zone`; extra columns (hyperbolic's `StorageGiB`) are ignored.
 *
 * @example
 * ```ts
 * const rows = parseVmCsv("lambda", readFileSync("lambda-vms.csv", "utf8"));
 * rows[0].gpuType; // "A10"
 * ```
 */
export const parseVmCsv = (cloud: string, text: string): ReadonlyArray<CatalogRow> => {
  const records: Array<Record<string, string>> = parse(text, { columns: true, skip_empty_lines: true, bom: true });
  const header = Object.keys(records[0] ?? {});
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (records.length > 0 && missing.length > 0) throw new Error(`${cloud} catalog lacks columns ${missing.join(", ")}`);

  const seen = new Set<string>();
  const rows: Array<CatalogRow> = [];
  records.forEach((record, index) => {
    const where = `${cloud} catalog row ${index + 2}`;
    const gpuType = record.AcceleratorName.trim();
    const countText = record.AcceleratorCount.trim();
    if (gpuType === "" || countText === "" || Number(countText) === 0) return;
    const key = JSON.stringify(record);
    if (seen.has(key)) return;
    seen.add(key);

    const spot = record.SpotPrice.trim();
    const zone = record.AvailabilityZone?.trim();
    const gpuMemoryMiB = gpuMemoryFromGpuInfo(record.GpuInfo);
    rows.push({
      cloud,
      instanceType: record.InstanceType.trim(),
      gpuType,
      gpuCount: numberIn(record, "AcceleratorCount", where),
      ...(gpuMemoryMiB === undefined ? {} : { gpuMemoryMiB }),
      vCpus: numberIn(record, "vCPUs", where),
      memoryGiB: numberIn(record, "MemoryGiB", where),
      pricePerHour: roundPrice(numberIn(record, "Price", where)),
      ...(spot === "" ? {} : { spotPricePerHour: roundPrice(numberIn(record, "SpotPrice", where)) }),
      cloudRegion: record.Region.trim(),
      ...(zone ? { zone } : {}),
    });
  });
  return rows;
};
