/**
 * One GPU instance type a cloud sells in one region (and zone, where the cloud has zones), as
 * read from the cloud's price catalog. Prices are USD per hour for the whole instance.
 *
 * @example
 * ```ts
 * const offer: GpuOffer = {
 *   cloud: "lambda", instanceType: "gpu_1x_h100_pcie", gpuType: "H100", gpuCount: 1,
 *   gpuMemoryMiB: 81920, vCpus: 26, memoryGiB: 200, pricePerHour: 3.29, cloudRegion: "us-east-1",
 * };
 * ```
 */
export interface GpuOffer {
  /** The cloud, lower case as in the catalog file name: `lambda`, `runpod`, `cudo`, ... */
  readonly cloud: string;
  readonly instanceType: string;
  /** Canonical accelerator name as the catalogs spell it: `H100`, `A100-80GB`, `RTX4090`. */
  readonly gpuType: string;
  readonly gpuCount: number;
  /** Memory of one GPU in MiB (never the instance total). */
  readonly gpuMemoryMiB: number;
  readonly vCpus: number;
  readonly memoryGiB: number;
  /** On-demand USD per hour, rounded to 6 decimals. */
  readonly pricePerHour: number;
  /** Spot USD per hour, where the catalog lists one. */
  readonly spotPricePerHour?: number;
  /** The cloud's own region name (`us-east-1`, `US`, `eu-north1`; hyperbolic has only `default`). */
  readonly cloudRegion: string;
  /** Availability zone, for clouds whose catalog lists zones (runpod). */
  readonly zone?: string;
}

/** What the catalogs say about one GPU type across every cloud (see `core/src/gpu/gpu-types.ts`). */
export interface GpuTypeSummary {
  readonly name: string;
  /** Per-GPU memory in MiB: the smallest any catalog reports, so a model sized to it fits everywhere. */
  readonly memoryMiB: number;
  /** The largest `AcceleratorCount` any catalog offers on one instance. */
  readonly maxPerNode: number;
  /** Clouds that offer it, sorted. */
  readonly clouds: ReadonlyArray<string>;
}
