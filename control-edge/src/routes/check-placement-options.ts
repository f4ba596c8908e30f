import { Effect } from "effect";
import { validateClouds, validateGpuRequests, ValidationError, type DeployRequest } from "@ferry/core";

const asList = (v: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> => (v === undefined ? [] : typeof v === "string" ? [v] : v);

/**
 * Check where a deploy's functions may run, before anything is stored: every GPU type known and
 * its count within the largest node any cloud offers, every cloud known, every region one the
 * platform has. Returns the request with GPU types and clouds in their canonical spelling.
 *
 * @example
 * ```ts
 * const req2 = yield* checkPlacementOptions(req, ["us-east", "eu-west"]);
 * ```
 */
export const checkPlacementOptions = (req: DeployRequest, knownRegions: ReadonlyArray<string>): Effect.Effect<DeployRequest, ValidationError> =>
  Effect.gen(function*() {
    const unknownTargets = (req.regions ?? []).filter((r) => !knownRegions.includes(r));
    if (unknownTargets.length > 0) {
      return yield* Effect.fail(new ValidationError({
        field: "body.regions",
        message: `body.regions: no region named ${unknownTargets.map((r) => JSON.stringify(r)).join(", ")}; regions: ${knownRegions.join(", ") || "none is up"}`,
      }));
    }
    const functions: Array<DeployRequest["functions"][number]> = [];
    for (const [i, f] of req.functions.entries()) {
      const at = (option: string) => `body.functions[${i}].options.${option}`;
      const bad = (option: string, message: string) => Effect.fail(new ValidationError({ field: at(option), message: `${at(option)}: ${message}` }));
      let options = f.options;
      if (options.gpu !== undefined) {
        const gpu = validateGpuRequests(asList(options.gpu));
        if (!gpu.ok) return yield* bad("gpu", gpu.message);
        options = { ...options, gpu: typeof options.gpu === "string" ? gpu.value[0] : gpu.value };
      }
      if (options.cloud !== undefined) {
        const clouds = validateClouds(asList(options.cloud));
        if (!clouds.ok) return yield* bad("cloud", clouds.message);
        options = { ...options, cloud: clouds.value };
      }
      const unknown = asList(options.region).filter((r) => !knownRegions.includes(r));
      if (unknown.length > 0) {
        return yield* bad("region", `no region named ${unknown.map((r) => JSON.stringify(r)).join(", ")}; regions: ${knownRegions.join(", ") || "none is up"}`);
      }
      // A region-targeted deploy: each function runs where the deploy and its own option both allow.
      if (req.regions !== undefined) {
        const own = asList(options.region);
        const regions = own.length === 0 ? req.regions : own.filter((r) => req.regions!.includes(r));
        if (regions.length === 0) {
          return yield* bad("region", `${f.name} runs only in ${own.join(", ")}, and this deploy targets ${req.regions.join(", ")}`);
        }
        options = { ...options, region: [...regions] };
      }
      functions.push({ ...f, options });
    }
    return { ...req, functions };
  });
