import type { GpuOffer } from "../../catalog/gpu-offer.ts";
import { StockOutError, type CapacityProvider, type CapacityRequest, type OfferLocation, type ProvisionedNode, type Quote } from "./capacity-provider.ts";
import { LaunchedNodes } from "./launched-nodes.ts";
import type { NodeLauncher } from "./node-launcher.ts";
import { fitsRequest, gibToMib } from "./request-fit.ts";

/** A simulated cloud starts nodes as soon as asked unless told otherwise. */
export const DEFAULT_SIMULATED_PROVISION_DELAY_MS = 0;

const SECONDS_PER_HOUR = 3600;

/**
 * Offers a simulated cloud has run out of: every field given must match (case ignored), fields
 * left out match anything. `{ zone: "US-TX-3" }` empties a zone; `{ instanceType: "gpu_8x_h100_sxm5" }`
 * that type everywhere; `{}` the whole cloud.
 */
export interface StockOutRule {
  readonly cloudRegion?: string;
  readonly zone?: string;
  readonly instanceType?: string;
}

/** A stock-out given as a rule, or as any test of an offer's location. */
export type StockOut = StockOutRule | ((at: OfferLocation) => boolean);

/** How a {@link SimulatedCloudProvider} behaves. */
export interface SimulatedCloudOptions {
  /** The cloud it simulates: `"lambda"`, `"runpod"`, ... */
  readonly cloud: string;
  /** Catalog offers; only those of `cloud` are used. */
  readonly offers: ReadonlyArray<GpuOffer>;
  /** Starts the node once "provisioned" (the platform starts an agent with simulated GPUs). */
  readonly launchNode: NodeLauncher;
  /** Time from `provision` to launch: one number, or per offer. */
  readonly provisionDelayMs?: number | ((offer: GpuOffer) => number);
  /** Initial stock-outs; change them later with `markOutOfStock` / `restock`. */
  readonly stockOuts?: ReadonlyArray<StockOut>;
  /** Waits out the provisioning delay (a timer unless replaced). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const same = (a: string | undefined, b: string | undefined): boolean => (a ?? "").toLowerCase() === (b ?? "").toLowerCase();

const matchesRule = (rule: StockOutRule, at: OfferLocation): boolean =>
  (rule.cloudRegion === undefined || same(rule.cloudRegion, at.cloudRegion)) &&
  (rule.zone === undefined || same(rule.zone, at.zone)) &&
  (rule.instanceType === undefined || same(rule.instanceType, at.instanceType));

const sameRule = (a: StockOut, b: StockOut): boolean =>
  a === b ||
  (typeof a !== "function" && typeof b !== "function" && a.cloudRegion === b.cloudRegion && a.zone === b.zone && a.instanceType === b.instanceType);

const timer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A SIMULATED cloud: quotes the cloud's real catalog prices, but "provisions" by calling the
 * injected launcher (which starts a local agent reporting the instance's GPUs) after a
 * configurable delay, and runs out of stock only where told to. No cloud API is called. Its
 * `kind` is `"simulated-cloud"` and every quote and launch carries `simulated: true`.
 *
 * Quotes ignore stock (like a real price list); a stocked-out offer fails on `provision` with
 * {@link StockOutError}, straight away, as a cloud's create call does.
 *
 * @example
 * ```ts
 * const lambda = new SimulatedCloudProvider({ cloud: "lambda", offers: loadGpuCatalog().offers, launchNode });
 * lambda.markOutOfStock({ cloudRegion: "us-east-1" });
 * const [best] = rankQuotes(lambda.quote({ gpu: ["H100"], cpu: 8, memoryMiB: 65_536 }), { gpu: ["H100"] });
 * const node = await lambda.provision(best);
 * ```
 */
export class SimulatedCloudProvider implements CapacityProvider {
  readonly name: string;
  readonly kind = "simulated-cloud";
  readonly #offers: ReadonlyArray<GpuOffer>;
  readonly #delay: (offer: GpuOffer) => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #nodes: LaunchedNodes;
  #stockOuts: Array<StockOut>;

  constructor(options: SimulatedCloudOptions) {
    this.name = options.cloud;
    this.#offers = options.offers.filter((o) => o.cloud === options.cloud);
    const delay = options.provisionDelayMs ?? DEFAULT_SIMULATED_PROVISION_DELAY_MS;
    this.#delay = typeof delay === "number" ? () => delay : delay;
    this.#sleep = options.sleep ?? timer;
    this.#stockOuts = [...(options.stockOuts ?? [])];
    this.#nodes = new LaunchedNodes(`sim-${options.cloud}`, options.launchNode);
  }

  /** Ids of the nodes running now. */
  get nodeIds(): ReadonlyArray<string> {
    return this.#nodes.ids;
  }

  /** From now on, offers matching `stockOut` fail to provision. */
  markOutOfStock(stockOut: StockOut): void {
    this.#stockOuts.push(stockOut);
  }

  /** Lift one stock-out (an equal rule, or the same function), or all of them when none is given. */
  restock(stockOut?: StockOut): void {
    this.#stockOuts = stockOut === undefined ? [] : this.#stockOuts.filter((s) => !sameRule(s, stockOut));
  }

  /** Whether provisioning at this location would fail for lack of stock now. */
  isOutOfStock(at: OfferLocation): boolean {
    return this.#stockOuts.some((s) => (typeof s === "function" ? s(at) : matchesRule(s, at)));
  }

  quote(request: CapacityRequest): ReadonlyArray<Quote> {
    return this.#offers.map((offer) => this.#quoteFor(offer)).filter((q) => fitsRequest(q, request));
  }

  async provision(quote: Quote): Promise<ProvisionedNode> {
    const offer = this.#offers.find(
      (o) => o.instanceType === quote.instanceType && o.cloudRegion === quote.cloudRegion && o.zone === quote.zone,
    );
    if (quote.cloud !== this.name || !offer) {
      throw new Error(`simulated ${this.name} has no offer ${quote.instanceType} in ${quote.cloud} ${quote.cloudRegion}`);
    }
    if (this.isOutOfStock(quote)) throw new StockOutError(quote);
    await this.#sleep(this.#delay(offer));
    return this.#nodes.launch(this.#quoteFor(offer));
  }

  terminate(nodeId: string): Promise<void> {
    return this.#nodes.stop(nodeId);
  }

  #quoteFor(offer: GpuOffer): Quote {
    return {
      cloud: offer.cloud,
      cloudRegion: offer.cloudRegion,
      ...(offer.zone === undefined ? {} : { zone: offer.zone }),
      instanceType: offer.instanceType,
      gpuType: offer.gpuType,
      gpuCount: offer.gpuCount,
      vCpus: offer.vCpus,
      memoryMiB: gibToMib(offer.memoryGiB),
      pricePerHour: offer.pricePerHour,
      pricePerSecond: offer.pricePerHour / SECONDS_PER_HOUR,
      provisionDelayMs: this.#delay(offer),
      simulated: true,
    };
  }
}
