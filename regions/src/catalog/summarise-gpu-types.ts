import type { CatalogRow } from "./parse-vm-csv.ts";
import type { GpuTypeSummary } from "./gpu-offer.ts";
import { NOMINAL_GPU_MEMORY_MIB } from "./nominal-gpu-memory.ts";

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One summary per GPU type found in the rows, sorted by name: per-GPU memory (the smallest any
 * row reports, else {@link NOMINAL_GPU_MEMORY_MIB}), the largest count on one instance, and the
 * clouds offering it. Throws for a type whose memory is known nowhere.
 *
 * @example
 * ```ts
 * summariseGpuTypes(rows).find((t) => t.name === "H100"); // { name: "H100", memoryMiB: 81559, maxPerNode: 8, clouds: [...] }
 * ```
 */
export const summariseGpuTypes = (rows: ReadonlyArray<CatalogRow>): ReadonlyArray<GpuTypeSummary> => {
  const acc = new Map<string, { memoryMiB?: number; maxPerNode: number; clouds: Set<string> }>();
  for (const row of rows) {
    const entry = acc.get(row.gpuType) ?? { maxPerNode: 0, clouds: new Set<string>() };
    entry.maxPerNode = Math.max(entry.maxPerNode, row.gpuCount);
    entry.clouds.add(row.cloud);
    if (row.gpuMemoryMiB !== undefined) entry.memoryMiB = Math.min(entry.memoryMiB ?? Infinity, row.gpuMemoryMiB);
    acc.set(row.gpuType, entry);
  }
  return [...acc.keys()].sort(byName).map((name) => {
    const entry = acc.get(name)!;
    const memoryMiB = entry.memoryMiB ?? NOMINAL_GPU_MEMORY_MIB[name];
    if (memoryMiB === undefined) throw new Error(`no catalog gives the memory of GPU type ${name}: add it to NOMINAL_GPU_MEMORY_MIB`);
    return { name, memoryMiB, maxPerNode: entry.maxPerNode, clouds: [...entry.clouds].sort(byName) };
  });
};
