import { canonicalJson, variantOf, type DeployRequest, type FunctionRow } from "@ferry/core";

type FunctionEntry = DeployRequest["functions"][number];

/** What a redeploy of an app changes for the functions it already had. */
export interface RedeployPlan {
  /**
   * Parametrised class instances (`Model.with(…)`) whose class is still deployed: they go into
   * the deploy with their class's new options, so they live on (same id, same queue) instead of
   * being dropped as functions the manifest does not name.
   */
  readonly carried: ReadonlyArray<FunctionEntry>;
  /** Ids of functions whose containers must be replaced: dropped, or their code or options changed. */
  readonly restart: ReadonlyArray<string>;
}

/**
 * Compare an app's deployed functions with a redeploy of it. A function keeps its containers when
 * its code and its options are unchanged; otherwise, or when the redeploy drops it, its containers
 * are replaced. Its code is its `codeFingerprint` (an option, so compared with them) when both
 * deploys carry one: editing one function of a bundle then restarts only that one. Without one,
 * the whole bundle is its code: any change to the app's files restarts every function. A class
 * instance follows its class.
 *
 * @example
 * ```ts
 * const plan = planRedeploy(oldRows, req.functions, newBundleHash);
 * await storage.deployApp(ws, { ...req, functions: [...req.functions, ...plan.carried] }, newBundleHash);
 * ```
 */
export const planRedeploy = (previous: ReadonlyArray<FunctionRow>, functions: ReadonlyArray<FunctionEntry>, bundleHash: string): RedeployPlan => {
  const byName = new Map(functions.map((f) => [f.name, f]));
  const carried: FunctionEntry[] = [];
  const restart: string[] = [];
  for (const old of previous) {
    const variant = variantOf(old.options);
    const own = byName.get(variant ? variant.cls : old.name);
    if (!own || (variant && !own.options.methods)) {
      restart.push(old.id);
      continue;
    }
    const options = variant ? ({ ...own.options, variant } as FunctionEntry["options"]) : own.options;
    if (variant) carried.push({ name: old.name, options });
    const fingerprinted = old.options.codeFingerprint !== undefined && options.codeFingerprint !== undefined;
    if ((!fingerprinted && old.bundleHash !== bundleHash) || canonicalJson(old.options) !== canonicalJson(options)) restart.push(old.id);
  }
  return { carried, restart };
};
