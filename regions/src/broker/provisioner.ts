import type { ResolvedFunctionOptions } from "@ferry/core";
import type { Fleet } from "../agents/fleet.ts";
import { StockOutError, type CapacityProvider, type OfferLocation, type ProvisionedNode } from "./providers/capacity-provider.ts";
import { nextAfterStockOut, rankQuotes, type RankedQuote } from "./providers/choose-quote.ts";

/** A provisioned node with no containers for this long is terminated (default; per region configurable). */
export const DEFAULT_NODE_IDLE_WINDOW_MS = 60_000;
/** An offer that ran out of stock is not tried again for this long. */
export const STOCKOUT_BLOCK_MS = 60_000;
/** A node that has not registered its agent this long after provisioning is given up on. */
export const NODE_REGISTER_TIMEOUT_MS = 60_000;
/** Most offers tried for one node before giving up until the next look. */
const MAX_ATTEMPTS = 500;
const REAP_INTERVAL_MS = 1_000;

/** A node this region asked a provider for. */
interface OwnedNode {
  readonly node: ProvisionedNode;
  readonly provider: CapacityProvider;
  readonly forFunction: string;
  /** Since when its agent has had no containers (or since provisioning). */
  idleSince: number;
}

const offerKey = (o: OfferLocation): string => `${o.cloud}\0${o.cloudRegion}\0${o.zone ?? ""}\0${o.instanceType}`;

/**
 * Brings capacity when no connected agent can serve: asks every provider for quotes, ranks them
 * (`rankQuotes`: GPU preference, then the node's price, within the function's clouds), and
 * provisions the best. On a stock-out it blocks that offer for `STOCKOUT_BLOCK_MS` and fails over
 * (`nextAfterStockOut`: another zone, region, then cloud). Provisioned nodes whose agents have
 * been without containers for the idle window are terminated.
 *
 * @example
 * ```ts
 * const provisioner = new Provisioner({ providers, fleet });
 * await provisioner.ensureCapacity("fn-1", options, 1);
 * ```
 */
export class Provisioner {
  private readonly owned = new Map<string, OwnedNode>();
  /** Nodes being provisioned, per function. */
  private readonly inFlight = new Map<string, number>();
  private readonly blocked = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly deps: {
    readonly providers: ReadonlyArray<CapacityProvider>;
    readonly fleet: Fleet;
    readonly idleWindowMs?: number;
    readonly log?: (line: string) => void;
    readonly now?: () => number;
  };
  /** The last reason a function's capacity could not be provisioned, if it could not. */
  readonly lastFailure = new Map<string, string>();

  constructor(deps: Provisioner["deps"]) {
    this.deps = deps;
  }

  get enabled(): boolean {
    return this.deps.providers.length > 0;
  }

  start(): void {
    this.timer = setInterval(() => void this.reapIdle(), REAP_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.owned.keys()].map((id) => this.terminate(id, "region stopping")));
  }

  /** Whether some provider could ever start a node for these options (ignoring stock). */
  canQuote(options: ResolvedFunctionOptions): boolean {
    return this.ranked(options, false).length > 0;
  }

  /**
   * Provision nodes so `count` more containers of a function can start, counting nodes already on
   * their way for it. Resolves when the nodes are started (their agents then register).
   */
  async ensureCapacity(functionId: string, options: ResolvedFunctionOptions, count: number): Promise<void> {
    const want = count - (this.inFlight.get(functionId) ?? 0);
    if (want <= 0) return;
    this.inFlight.set(functionId, (this.inFlight.get(functionId) ?? 0) + want);
    try {
      await Promise.all(Array.from({ length: want }, () => this.provisionOne(functionId, options)));
    } finally {
      this.inFlight.set(functionId, Math.max(0, (this.inFlight.get(functionId) ?? 0) - want));
    }
  }

  /** Every node this region provisioned, with its provider's view. */
  nodes(): ReadonlyArray<ProvisionedNode & { readonly forFunction: string }> {
    return [...this.owned.values()].map((o) => ({ ...o.node, forFunction: o.forFunction }));
  }

  private ranked(options: ResolvedFunctionOptions, skipBlocked = true): ReadonlyArray<RankedQuote> {
    const request = { gpu: options.gpu, cpu: options.cpu, memoryMiB: options.memory };
    const quotes = this.deps.providers.flatMap((p) => p.quote(request));
    const now = this.now();
    return rankQuotes(quotes, { gpu: options.gpu, clouds: options.clouds })
      .filter((q) => !skipBlocked || (this.blocked.get(offerKey(q)) ?? 0) <= now);
  }

  private async provisionOne(functionId: string, options: ResolvedFunctionOptions): Promise<void> {
    let candidates = this.ranked(options);
    for (let attempt = 0; attempt < MAX_ATTEMPTS && candidates.length > 0; attempt++) {
      const quote = candidates[0]!;
      const provider = this.deps.providers.find((p) => p.name === quote.cloud);
      if (!provider) {
        candidates = candidates.slice(1);
        continue;
      }
      try {
        const node = await provider.provision(quote);
        this.owned.set(node.nodeId, { node, provider, forFunction: functionId, idleSince: this.now() });
        this.lastFailure.delete(functionId);
        this.deps.log?.(`provisioned ${quote.cloud} ${quote.instanceType} in ${quote.zone ?? quote.cloudRegion} (${quote.pricePerHour} USD/h) as ${node.nodeId}`);
        return;
      } catch (e) {
        if (!(e instanceof StockOutError)) {
          this.lastFailure.set(functionId, `provisioning ${quote.cloud} ${quote.instanceType} failed: ${(e as Error).message}`);
          return;
        }
        this.blocked.set(offerKey(e), this.now() + STOCKOUT_BLOCK_MS);
        this.deps.log?.(`${e.message}; trying the next offer`);
        candidates = nextAfterStockOut(candidates, e);
      }
    }
    this.lastFailure.set(functionId, `every offer for gpu ${options.gpu.join(" or ") || "none"}${options.clouds.length > 0 ? ` in ${options.clouds.join(", ")}` : ""} is out of stock`);
  }

  private agentOf(nodeId: string): string | undefined {
    for (const a of this.deps.fleet.agents.values()) if (a.register.providerNodeId === nodeId) return a.register.agentId;
    return undefined;
  }

  private async reapIdle(): Promise<void> {
    const now = this.now();
    const window = this.deps.idleWindowMs ?? DEFAULT_NODE_IDLE_WINDOW_MS;
    for (const [nodeId, o] of this.owned) {
      const agentId = this.agentOf(nodeId);
      if (agentId === undefined) {
        if (now - o.node.provisionedAtMs > NODE_REGISTER_TIMEOUT_MS) await this.terminate(nodeId, "its agent never registered");
        continue;
      }
      let busy = false;
      for (const c of this.deps.fleet.containers.values()) if (c.agentId === agentId) busy = true;
      if (busy) o.idleSince = now;
      else if (now - o.idleSince >= window) await this.terminate(nodeId, `idle for ${Math.round(window / 1000)} s`);
    }
  }

  private async terminate(nodeId: string, why: string): Promise<void> {
    const o = this.owned.get(nodeId);
    if (!o) return;
    this.owned.delete(nodeId);
    await o.provider.terminate(nodeId).catch(() => undefined);
    this.deps.log?.(`terminated ${nodeId}: ${why}`);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}
