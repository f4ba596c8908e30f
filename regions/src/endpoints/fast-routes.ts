import type { Fleet } from "../agents/fleet.ts";

/** One agent an edge may send a function's warm web endpoint requests to, straight (the fast path). */
export interface FastRoute {
  readonly agentId: string;
  /** `host:port` of the agent's fast path (see the agent's `FastEndpointServer`). */
  readonly address: string;
  /** Requests its running containers of the function take at once (containers × `maxInputs`). */
  readonly slots: number;
}

/**
 * The agents with running containers of `functionId` that an edge may send requests to straight,
 * with their slots. Empty when none runs (the request then takes the work queue, which starts one).
 *
 * @example
 * ```ts
 * fastRoutesOf(fleet, fn.id, 32); // [{ agentId: "ag-…", address: "127.0.0.1:40123", slots: 64 }]
 * ```
 */
export const fastRoutesOf = (fleet: Fleet, functionId: string, maxInputs: number): FastRoute[] => {
  const byAgent = new Map<string, number>();
  for (const c of fleet.liveContainers(functionId)) {
    if (c.state === "running") byAgent.set(c.agentId, (byAgent.get(c.agentId) ?? 0) + 1);
  }
  const routes: FastRoute[] = [];
  for (const [agentId, containers] of byAgent) {
    const register = fleet.agents.get(agentId)?.register;
    if (!register?.endpointPort) continue;
    routes.push({ agentId, address: `${register.address || "127.0.0.1"}:${register.endpointPort}`, slots: containers * maxInputs });
  }
  return routes;
};
