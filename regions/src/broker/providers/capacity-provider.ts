/** Where an offer lives: enough to name it in a stock-out and to block it on failover. */
export interface OfferLocation {
  readonly cloud: string;
  readonly cloudRegion: string;
  /** Availability zone, for clouds that have them. */
  readonly zone?: string;
  readonly instanceType: string;
}

/** What one container needs from a new node. */
export interface CapacityRequest {
  /** Acceptable GPUs (`"H100"`, `"A100-80GB:2"`, `"any"`) in order of preference; empty for a CPU container. */
  readonly gpu: ReadonlyArray<string>;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Only these cloud regions (or zones); empty or absent for any. */
  readonly cloudRegions?: ReadonlyArray<string>;
}

/** A node a provider could start now for a request, and what it costs. */
export interface Quote extends OfferLocation {
  /** The node's GPU type; absent for a CPU node. */
  readonly gpuType?: string;
  readonly gpuCount: number;
  readonly vCpus: number;
  readonly memoryMiB: number;
  /** USD per hour for the whole node, on demand. */
  readonly pricePerHour: number;
  /** USD per second for the whole node: `pricePerHour / 3600`. */
  readonly pricePerSecond: number;
  /** How long the provider expects from `provision` to a started node. */
  readonly provisionDelayMs: number;
  /** True when the node's hardware would be simulated (a simulated cloud, or simulated GPUs). */
  readonly simulated: boolean;
}

/** A node a provider started. */
export interface ProvisionedNode {
  readonly nodeId: string;
  readonly quote: Quote;
  /** `Date.now()` when the launcher reported the node started. */
  readonly provisionedAtMs: number;
}

/** How a provider gets its capacity; simulated ones say so, so they are never mistaken for a real cloud. */
export type ProviderKind = "simulated-cloud" | "local";

/**
 * A source of nodes: a cloud (or the local machine). The broker asks every provider for quotes,
 * ranks them (`rankQuotes`), provisions the best and fails over on {@link StockOutError}.
 *
 * @example
 * ```ts
 * const quotes = provider.quote({ gpu: ["H100"], cpu: 4, memoryMiB: 16_384 });
 * const node = await provider.provision(quotes[0]);
 * await provider.terminate(node.nodeId);
 * ```
 */
export interface CapacityProvider {
  /** The cloud it provisions in: `"lambda"`, `"runpod"`, `"local"`. */
  readonly name: string;
  readonly kind: ProviderKind;
  /** Offers that can host one container of `request` (a price list: stock is only known on `provision`). */
  quote(request: CapacityRequest): ReadonlyArray<Quote>;
  /** Start a node for a quote of this provider; rejects with {@link StockOutError} when out of stock. */
  provision(quote: Quote): Promise<ProvisionedNode>;
  /** Stop a node this provider started; resolves at once for an id it does not know. */
  terminate(nodeId: string): Promise<void>;
}

const where = (at: OfferLocation): string => (at.zone ? `${at.cloudRegion}/${at.zone}` : at.cloudRegion);

/**
 * The cloud has no capacity for this instance type in this region (or zone) right now.
 *
 * @example
 * ```ts
 * try { await provider.provision(quote); }
 * catch (e) { if (e instanceof StockOutError) ranked = nextAfterStockOut(ranked, e); }
 * ```
 */
export class StockOutError extends Error implements OfferLocation {
  override readonly name = "StockOutError";
  readonly cloud: string;
  readonly cloudRegion: string;
  readonly zone?: string;
  readonly instanceType: string;
  constructor(at: OfferLocation) {
    super(`${at.cloud} has no ${at.instanceType} in stock in ${where(at)}`);
    this.cloud = at.cloud;
    this.cloudRegion = at.cloudRegion;
    if (at.zone !== undefined) this.zone = at.zone;
    this.instanceType = at.instanceType;
  }
}
