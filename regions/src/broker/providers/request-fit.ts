import { ANY_GPU, InvalidGpuRequestError, parseGpuRequest } from "@ferry/core";
import type { CapacityRequest, Quote } from "./capacity-provider.ts";

/** The part of a quote that decides whether a container fits on it. */
export type NodeShape = Pick<Quote, "gpuType" | "gpuCount" | "vCpus" | "memoryMiB">;

const MIB_PER_GIB = 1024;

/** GiB as the catalogs give memory, in the MiB Ferry requests use. */
export const gibToMib = (gib: number): number => Math.round(gib * MIB_PER_GIB);

/**
 * Which entry of a request's `gpu` list (preference order) a node satisfies first, or -1 when
 * none does. A CPU request (empty list) fits CPU nodes only, at preference 0: starting a GPU
 * node for a CPU container would waste the GPUs. Types match ignoring case; `any` matches any GPU.
 *
 * @example
 * ```ts
 * gpuPreference({ gpuType: "A100-80GB", gpuCount: 8 }, ["H100:2", "A100-80GB:2"]); // 1
 * gpuPreference({ gpuType: "H100", gpuCount: 1 }, ["H100:2"]);                     // -1
 * ```
 */
export const gpuPreference = (node: Pick<NodeShape, "gpuType" | "gpuCount">, gpu: ReadonlyArray<string>): number => {
  if (gpu.length === 0) return node.gpuCount === 0 ? 0 : -1;
  if (node.gpuType === undefined || node.gpuCount === 0) return -1;
  const nodeType = node.gpuType.toLowerCase();
  return gpu.findIndex((spec) => {
    try {
      const wanted = parseGpuRequest(spec);
      return (wanted.type === ANY_GPU || wanted.type.toLowerCase() === nodeType) && node.gpuCount >= wanted.count;
    } catch (error) {
      if (error instanceof InvalidGpuRequestError) return false;
      throw error;
    }
  });
};

/**
 * Whether a location is within a `cloudRegions` constraint: an empty list allows all; otherwise
 * the region or the zone must be listed (case ignored), so `"US-TX-3"` pins one runpod zone.
 *
 * @example
 * ```ts
 * inCloudRegions({ cloudRegion: "US", zone: "US-TX-3" }, ["us"]); // true
 * ```
 */
export const inCloudRegions = (at: Pick<Quote, "cloudRegion" | "zone">, cloudRegions: ReadonlyArray<string> | undefined): boolean => {
  if (!cloudRegions || cloudRegions.length === 0) return true;
  const allowed = cloudRegions.map((r) => r.toLowerCase());
  return allowed.includes(at.cloudRegion.toLowerCase()) || (at.zone !== undefined && allowed.includes(at.zone.toLowerCase()));
};

/**
 * Whether one container of `request` fits on a node of this shape in this place.
 *
 * @example
 * ```ts
 * fitsRequest({ gpuType: "H100", gpuCount: 1, vCpus: 26, memoryMiB: 204_800, cloudRegion: "us-east-1" },
 *   { gpu: ["H100"], cpu: 4, memoryMiB: 16_384 }); // true
 * ```
 */
export const fitsRequest = (node: NodeShape & Pick<Quote, "cloudRegion" | "zone">, request: CapacityRequest): boolean =>
  node.vCpus >= request.cpu &&
  node.memoryMiB >= request.memoryMiB &&
  gpuPreference(node, request.gpu) >= 0 &&
  inCloudRegions(node, request.cloudRegions);
