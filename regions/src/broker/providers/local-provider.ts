import { availableParallelism, totalmem } from "node:os";
import { LOCAL_CLOUD, parseGpuRequest } from "@ferry/core";
import type { CapacityProvider, CapacityRequest, ProvisionedNode, Quote } from "./capacity-provider.ts";
import { LaunchedNodes } from "./launched-nodes.ts";
import type { NodeLauncher } from "./node-launcher.ts";
import { fitsRequest } from "./request-fit.ts";

/** The local machine is its own single region. */
export const LOCAL_REGION = "local";

/** A local node starts as soon as its agent process does. */
export const DEFAULT_LOCAL_PROVISION_DELAY_MS = 0;

const SECONDS_PER_HOUR = 3600;
const BYTES_PER_MIB = 1024 * 1024;

/** One kind of node the local provider can start. */
export interface LocalNodeShape {
  readonly instanceType: string;
  readonly vCpus: number;
  readonly memoryMiB: number;
  /** Simulated GPUs the node's agent reports, `TYPE:COUNT` (`"H100:8"`); absent for a CPU node. */
  readonly gpus?: string;
  /** USD per hour; the provider's `pricePerHour` (0 by default) when absent. */
  readonly pricePerHour?: number;
}

/** How a {@link LocalProvider} behaves. */
export interface LocalProviderOptions {
  /** Starts the node (an agent process on this machine). */
  readonly launchNode: NodeLauncher;
  /** The shapes to offer; by default one CPU shape the size of this machine plus `simulatedGpus`. */
  readonly shapes?: ReadonlyArray<LocalNodeShape>;
  /** GPU shapes to add to the default ones, machine-sized with these simulated GPUs: `["H100:8"]`. */
  readonly simulatedGpus?: ReadonlyArray<string>;
  /** Price of a shape that names none (default 0: the machine is already paid for). */
  readonly pricePerHour?: number;
  /** Start-up time quoted for ranking (the launcher itself takes what it takes). */
  readonly provisionDelayMs?: number;
  /** The machine's size for the default shapes (default: this machine's cores and memory). */
  readonly machine?: { readonly vCpus: number; readonly memoryMiB: number };
}

/**
 * The node shapes a local provider offers when none are configured: this machine as a CPU node,
 * and the same machine again for each simulated GPU set (canonical GPU names).
 *
 * @example
 * ```ts
 * defaultLocalShapes({ vCpus: 16, memoryMiB: 65_536 }, ["h100:8"]);
 * // [{ instanceType: "local-cpu", vCpus: 16, memoryMiB: 65536 },
 * //  { instanceType: "local-H100x8", vCpus: 16, memoryMiB: 65536, gpus: "H100:8" }]
 * ```
 */
export const defaultLocalShapes = (
  machine: { readonly vCpus: number; readonly memoryMiB: number },
  simulatedGpus: ReadonlyArray<string> = [],
): ReadonlyArray<LocalNodeShape> => [
  { instanceType: "local-cpu", vCpus: machine.vCpus, memoryMiB: machine.memoryMiB },
  ...simulatedGpus.map((spec) => {
    const { type, count } = parseGpuRequest(spec);
    return { instanceType: `local-${type}x${count}`, vCpus: machine.vCpus, memoryMiB: machine.memoryMiB, gpus: `${type}:${count}` };
  }),
];

const thisMachine = (): { vCpus: number; memoryMiB: number } => ({
  vCpus: availableParallelism(),
  memoryMiB: Math.floor(totalmem() / BYTES_PER_MIB),
});

/**
 * Capacity on the region's own machine, cloud `"local"`: provisions by calling the injected
 * launcher, which starts an agent process here. Free unless a price is configured, so it wins
 * ranking among quotes of the same GPU preference. GPU shapes are simulated (`simulated: true`).
 *
 * @example
 * ```ts
 * const local = new LocalProvider({ launchNode, simulatedGpus: ["H100:8"] });
 * const [quote] = local.quote({ gpu: [], cpu: 1, memoryMiB: 512 });
 * const node = await local.provision(quote);
 * ```
 */
export class LocalProvider implements CapacityProvider {
  readonly name = LOCAL_CLOUD;
  readonly kind = "local";
  readonly #quotes: ReadonlyArray<Quote>;
  readonly #nodes: LaunchedNodes;

  constructor(options: LocalProviderOptions) {
    const shapes = options.shapes ?? defaultLocalShapes(options.machine ?? thisMachine(), options.simulatedGpus);
    const delay = options.provisionDelayMs ?? DEFAULT_LOCAL_PROVISION_DELAY_MS;
    this.#quotes = shapes.map((shape) => {
      const gpu = shape.gpus === undefined ? undefined : parseGpuRequest(shape.gpus);
      const pricePerHour = shape.pricePerHour ?? options.pricePerHour ?? 0;
      return {
        cloud: LOCAL_CLOUD,
        cloudRegion: LOCAL_REGION,
        instanceType: shape.instanceType,
        ...(gpu === undefined ? {} : { gpuType: gpu.type }),
        gpuCount: gpu?.count ?? 0,
        vCpus: shape.vCpus,
        memoryMiB: shape.memoryMiB,
        pricePerHour,
        pricePerSecond: pricePerHour / SECONDS_PER_HOUR,
        provisionDelayMs: delay,
        simulated: gpu !== undefined,
      };
    });
    this.#nodes = new LaunchedNodes(LOCAL_CLOUD, options.launchNode);
  }

  /** Ids of the nodes running now. */
  get nodeIds(): ReadonlyArray<string> {
    return this.#nodes.ids;
  }

  quote(request: CapacityRequest): ReadonlyArray<Quote> {
    return this.#quotes.filter((q) => fitsRequest(q, request));
  }

  provision(quote: Quote): Promise<ProvisionedNode> {
    const own = this.#quotes.find((q) => q.instanceType === quote.instanceType);
    if (quote.cloud !== LOCAL_CLOUD || !own) {
      return Promise.reject(new Error(`the local provider has no node shape ${quote.instanceType}`));
    }
    return this.#nodes.launch(own);
  }

  terminate(nodeId: string): Promise<void> {
    return this.#nodes.stop(nodeId);
  }
}
