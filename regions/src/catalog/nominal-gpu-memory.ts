/**
 * Per-GPU memory (MiB) from the vendors' data sheets, for GPU types that only appear in catalogs
 * whose `GpuInfo` carries no memory (runpod's is a bare name). Types any catalog gives a size for
 * take it from there instead; a type in neither place fails the catalog load, so add it here.
 *
 * @example
 * ```ts
 * NOMINAL_GPU_MEMORY_MIB["L4"]; // 24576 (24 GB)
 * ```
 */
export const NOMINAL_GPU_MEMORY_MIB: Readonly<Record<string, number>> = {
  "A100-80GB-SXM": 80 * 1024,
  "H100-NVL": 94 * 1024,
  "H200-SXM": 141 * 1024,
  L4: 24 * 1024,
  L40: 48 * 1024,
  MI300X: 192 * 1024,
  RTX3090: 24 * 1024,
  "RTX4000-Ada": 20 * 1024,
  RTX4090: 24 * 1024,
  "RTX6000-Ada": 48 * 1024,
  RTXA4000: 16 * 1024,
  RTXA4500: 20 * 1024,
};
