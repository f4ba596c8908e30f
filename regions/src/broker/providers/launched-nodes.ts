import type { ProvisionedNode, Quote } from "./capacity-provider.ts";
import type { LaunchedNode, NodeLauncher, NodeLaunchSpec } from "./node-launcher.ts";

/**
 * The nodes one provider has started, by id: launches through the injected launcher and stops
 * them again. Shared by the simulated and local providers.
 *
 * @example
 * ```ts
 * const nodes = new LaunchedNodes("lambda", launchNode);
 * const node = await nodes.launch(quote);
 * await nodes.stop(node.nodeId);
 * ```
 */
export class LaunchedNodes {
  readonly #prefix: string;
  readonly #launchNode: NodeLauncher;
  readonly #nodes = new Map<string, LaunchedNode>();
  #launched = 0;

  constructor(prefix: string, launchNode: NodeLauncher) {
    this.#prefix = prefix;
    this.#launchNode = launchNode;
  }

  /** Ids of the nodes started and not yet stopped. */
  get ids(): ReadonlyArray<string> {
    return [...this.#nodes.keys()];
  }

  /** Start a node of the quote's shape. */
  async launch(quote: Quote): Promise<ProvisionedNode> {
    this.#launched += 1;
    const spec: NodeLaunchSpec = {
      name: `${this.#prefix}-${quote.zone ?? quote.cloudRegion}-${this.#launched}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-"),
      cloud: quote.cloud,
      cloudRegion: quote.cloudRegion,
      ...(quote.zone === undefined ? {} : { zone: quote.zone }),
      instanceType: quote.instanceType,
      ...(quote.gpuType === undefined ? {} : { gpus: `${quote.gpuType}:${quote.gpuCount}` }),
      vCpus: quote.vCpus,
      memoryMiB: quote.memoryMiB,
      pricePerHour: quote.pricePerHour,
      simulated: quote.simulated,
    };
    const node = await this.#launchNode(spec);
    if (this.#nodes.has(node.nodeId)) {
      await node.stop();
      throw new Error(`launcher returned node id ${node.nodeId}, which is already running`);
    }
    this.#nodes.set(node.nodeId, node);
    return { nodeId: node.nodeId, quote, provisionedAtMs: Date.now() };
  }

  /** Stop a node; an unknown (or already stopped) id is a no-op. */
  async stop(nodeId: string): Promise<void> {
    const node = this.#nodes.get(nodeId);
    if (!node) return;
    this.#nodes.delete(nodeId);
    await node.stop();
  }
}
