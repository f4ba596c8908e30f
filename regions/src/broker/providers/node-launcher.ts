/**
 * What a provider asks the platform to start once it has capacity: one node of this shape.
 * The platform's launcher starts an agent process for it, e.g.
 * `--gpus H100:8 --cloud lambda --zone us-east-1 --price-per-hour 31.92`.
 */
export interface NodeLaunchSpec {
  /** A readable, unique-per-provider name the launcher may use as the node id. */
  readonly name: string;
  readonly cloud: string;
  readonly cloudRegion: string;
  readonly zone?: string;
  readonly instanceType: string;
  /** `TYPE:COUNT` of the node's GPUs (`"H100:8"`); absent for a CPU node. */
  readonly gpus?: string;
  readonly vCpus: number;
  readonly memoryMiB: number;
  readonly pricePerHour: number;
  /** True when the hardware is simulated (the GPUs, or the whole cloud), not real. */
  readonly simulated: boolean;
}

/** A node the launcher started; `stop()` ends it and resolves once it is gone. */
export interface LaunchedNode {
  readonly nodeId: string;
  stop(): Promise<void>;
}

/**
 * Starts one node. Injected into providers, which decide *whether* and *where* to start a node;
 * the launcher is how (a local agent process, a cloud VM's boot script, ...).
 *
 * @example
 * ```ts
 * const launchNode: NodeLauncher = async (spec) => {
 *   const agent = await startAgent(["--gpus", spec.gpus ?? "", "--cloud", spec.cloud]);
 *   return { nodeId: spec.name, stop: () => agent.stop() };
 * };
 * ```
 */
export type NodeLauncher = (spec: NodeLaunchSpec) => Promise<LaunchedNode>;
