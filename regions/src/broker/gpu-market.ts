import type { Fleet } from "../agents/fleet.ts";
import type { CapacityProvider } from "./providers/capacity-provider.ts";
import type { Reputation } from "./reputation.ts";

/** One line of `ferry gpu market`: a connected node's free capacity, or a cloud's offer. */
export interface MarketOffer {
  /** `agent`: a node connected to this region now; `provider`: an offer a provider can start on demand. */
  readonly source: "agent" | "provider";
  readonly cloud: string;
  readonly cloudRegion: string;
  readonly zone: string;
  /** `cpu` for nodes without GPUs. */
  readonly gpuType: string;
  readonly gpusPerNode: number;
  readonly pricePerHour: number;
  readonly pricePerGpuHour: number;
  /** Free GPUs on an agent; -1 for a provider's offer (on demand, stock known only when provisioning). */
  readonly available: number;
  readonly instanceType: string;
  readonly simulated: boolean;
  readonly agentId?: string;
  /** The agent's RDMA fabric ("" for none). */
  readonly fabric?: string;
  /** How far the broker trusts the agent's bids (1 = fully). */
  readonly reputation?: number;
}

/**
 * What this region can offer now: every connected agent with its free GPUs and price, and the
 * cheapest offer per cloud, cloud region and GPU type of each capacity provider.
 *
 * @example
 * ```ts
 * const offers = gpuMarket(fleet, providers, reputation);
 * ```
 */
export const gpuMarket = (fleet: Fleet, providers: ReadonlyArray<CapacityProvider>, reputation: Reputation): ReadonlyArray<MarketOffer> => {
  const agents = fleet.slots().map((slot): MarketOffer => {
    const r = fleet.agents.get(slot.agentId)!.register;
    const gpuType = r.capacity.gpus[0] ?? "cpu";
    const count = r.capacity.gpus.length;
    return {
      source: "agent", cloud: r.cloud, cloudRegion: r.cloudRegion, zone: r.zone, gpuType, gpusPerNode: count,
      pricePerHour: r.pricePerHour, pricePerGpuHour: count > 0 ? r.pricePerHour / count : r.pricePerHour,
      available: slot.freeGpus.length, instanceType: r.instanceType, simulated: r.simulatedGpus,
      agentId: r.agentId, fabric: r.fabric, reputation: reputation.of(r.agentId),
    };
  });
  const cheapest = new Map<string, MarketOffer>();
  for (const p of providers) {
    for (const q of p.quote({ gpu: ["any"], cpu: 0, memoryMiB: 0 })) {
      const offer: MarketOffer = {
        source: "provider", cloud: q.cloud, cloudRegion: q.cloudRegion, zone: q.zone ?? "", gpuType: q.gpuType ?? "cpu",
        gpusPerNode: q.gpuCount, pricePerHour: q.pricePerHour, pricePerGpuHour: q.gpuCount > 0 ? q.pricePerHour / q.gpuCount : q.pricePerHour,
        available: -1, instanceType: q.instanceType, simulated: q.simulated,
      };
      const key = `${offer.cloud}\0${offer.cloudRegion}\0${offer.gpuType}`;
      const best = cheapest.get(key);
      if (!best || offer.pricePerGpuHour < best.pricePerGpuHour) cheapest.set(key, offer);
    }
  }
  const byPrice = (a: MarketOffer, b: MarketOffer) => a.gpuType.localeCompare(b.gpuType) || a.pricePerGpuHour - b.pricePerGpuHour;
  return [...agents.sort(byPrice), ...[...cheapest.values()].sort(byPrice)];
};
