import type { AgentBid, AgentMessage, ContainerReport, Register, RegionCommand } from "@ferry/core/node";
import type { AgentSlot } from "../scheduler/place-container.ts";

/** A container the region asked an agent to start, until the agent reports it gone. */
export interface TrackedContainer {
  readonly containerId: string;
  readonly functionId: string;
  readonly agentId: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** GPUs granted exclusively to it, by index on its agent, and their type ("" on CPU). */
  readonly gpuIndices: ReadonlyArray<number>;
  readonly gpuType: string;
  /** The cloud of its node. */
  readonly cloud: string;
  /** USD per second it is charged: its share of its node's price (see `clearAuction`). */
  readonly pricePerSecond: number;
  /** Who to bill. */
  readonly workspaceId: string;
  readonly appId: string;
  readonly appName: string;
  readonly functionName: string;
  /** Set on the containers of a gang-placed cluster, with each one's rank. */
  readonly clusterId?: string;
  readonly rank?: number;
  state: "starting" | "running";
  readonly startedAt: number;
  /** Since when the agent reports it idle (no batch in hand); undefined while busy. */
  idleSince?: number;
  /** Asked to stop to free room for another function. */
  evicting?: boolean;
  /** Web endpoint requests it holds on the fast path, as of its agent's last heartbeat. */
  fastInFlight?: number;
}

/** The resources the region has placed on one agent. */
export interface Placed {
  cpu: number;
  memoryMiB: number;
  readonly gpuIndices: Set<number>;
  containers: number;
  starting: number;
}

const NOTHING_PLACED: Placed = { cpu: 0, memoryMiB: 0, gpuIndices: new Set(), containers: 0, starting: 0 };

/** A connected agent and the way to send it commands. */
export interface ConnectedAgent {
  readonly register: Register;
  readonly send: (command: RegionCommand) => void;
  lastSeen: number;
  /** Waiters for this agent's bid, by auction id. */
  readonly bidWaiters: Map<string, (bid: AgentBid) => void>;
}

/**
 * The region's view of its agents and their containers. The agents' reports are the truth: a
 * container leaves the fleet when its agent says it stopped, or when its agent disconnects.
 */
export class Fleet {
  readonly agents = new Map<string, ConnectedAgent>();
  readonly containers = new Map<string, TrackedContainer>();
  /** Called when capacity or containers change, with the functions whose containers changed. */
  onChange: (functionIds: ReadonlySet<string>) => void = () => {};

  /** Rewrites applied to every command on its way to an agent (a sandbox's start gets its settings). */
  readonly commandRewriters: Array<(command: RegionCommand) => RegionCommand> = [];
  /** Called with the agent messages the fleet itself does not handle (sandbox snapshots). */
  readonly agentMessageListeners: Array<(agentId: string, message: AgentMessage) => void> = [];

  /** An agent message for the listeners (see `agentMessageListeners`). */
  relay(agentId: string, message: AgentMessage): void {
    for (const l of this.agentMessageListeners) l(agentId, message);
  }

  addAgent(register: Register, send: (command: RegionCommand) => void): void {
    const rewritten = (command: RegionCommand) => send(this.commandRewriters.reduce((c, rewrite) => rewrite(c), command));
    this.agents.set(register.agentId, { register, send: rewritten, lastSeen: Date.now(), bidWaiters: new Map() });
    this.onChange(new Set());
  }

  /** Called when a container becomes ready, with how long it took from the region's request. */
  readonly containerReadyListeners: Array<(container: TrackedContainer, startMs: number) => void> = [];

  /** Called with the web endpoint requests a function's containers took on the fast path (from heartbeats). */
  readonly fastServedListeners: Array<(functionId: string, served: number) => void> = [];

  /** Called when a container leaves the fleet (stopped, failed, or its agent went away). */
  readonly containerGoneListeners: Array<(container: TrackedContainer, reason: string) => void> = [];

  private containerGone(c: TrackedContainer, reason: string): void {
    for (const l of this.containerGoneListeners) l(c, reason);
  }

  /** An agent's answer to a call for bids. */
  receiveBid(agentId: string, bid: AgentBid): void {
    const agent = this.agents.get(agentId);
    const waiter = agent?.bidWaiters.get(bid.auctionId);
    agent?.bidWaiters.delete(bid.auctionId);
    waiter?.(bid);
  }

  removeAgent(agentId: string): void {
    this.agents.delete(agentId);
    const affected = new Set<string>();
    for (const c of this.containers.values()) {
      if (c.agentId === agentId) {
        this.containers.delete(c.containerId);
        this.containerGone(c, "agent disconnected");
        affected.add(c.functionId);
      }
    }
    this.onChange(affected);
  }

  track(container: TrackedContainer): void {
    this.containers.set(container.containerId, container);
  }

  /** Consecutive failed starts per function, for crash-loop backoff. */
  readonly startFailures = new Map<string, { count: number; last: number }>();

  report(agentId: string, report: ContainerReport): void {
    const c = this.containers.get(report.containerId);
    if (!c || c.agentId !== agentId) return;
    if (report.state === "running") {
      if (c.state === "starting") for (const l of this.containerReadyListeners) l(c, Date.now() - c.startedAt);
      c.state = "running";
      this.startFailures.delete(c.functionId);
    } else if (report.state === "stopped" || report.state === "failed") {
      if (report.state === "failed") {
        const f = this.startFailures.get(c.functionId);
        this.startFailures.set(c.functionId, { count: (f?.count ?? 0) + 1, last: Date.now() });
      }
      this.containers.delete(report.containerId);
      this.containerGone(c, report.reason);
      this.onChange(new Set([c.functionId]));
    }
  }

  /** Drop containers an agent's heartbeat no longer lists (a lost stop report); note idle ones. */
  reconcileHeartbeat(agentId: string, listed: ReadonlyArray<ContainerReport>): void {
    const agent = this.agents.get(agentId);
    if (agent) agent.lastSeen = Date.now();
    for (const r of listed) {
      const c = this.containers.get(r.containerId);
      if (!c) continue;
      if (r.state === "running") c.state = "running";
      c.idleSince = r.reason === "idle" ? (c.idleSince ?? Date.now()) : undefined;
      c.fastInFlight = r.fastInFlight ?? 0;
      if (r.fastServed) for (const l of this.fastServedListeners) l(c.functionId, r.fastServed);
    }
    const alive = new Set(listed.map((c) => c.containerId));
    const affected = new Set<string>();
    const graceMs = 10_000;
    for (const c of this.containers.values()) {
      if (c.agentId === agentId && !alive.has(c.containerId) && Date.now() - c.startedAt > graceMs) {
        this.containers.delete(c.containerId);
        this.containerGone(c, "no longer reported by its agent");
        affected.add(c.functionId);
      }
    }
    if (affected.size > 0) this.onChange(affected);
  }

  liveContainers(functionId: string): ReadonlyArray<TrackedContainer> {
    const out: TrackedContainer[] = [];
    for (const c of this.containers.values()) if (c.functionId === functionId && !c.evicting) out.push(c);
    return out;
  }

  /** Web endpoint requests the function's containers hold on the fast path (load the work queue does not see). */
  fastInFlight(functionId: string): number {
    let n = 0;
    for (const c of this.containers.values()) if (c.functionId === functionId) n += c.fastInFlight ?? 0;
    return n;
  }

  /** Free capacity per agent, derived from what the region placed on it. */
  slots(): ReadonlyArray<AgentSlot & { readonly totalMemoryMiB: number; readonly allGpus: ReadonlyArray<string> }> {
    const placed = this.placedByAgent();
    return [...this.agents.values()].map((a) => {
      const mine = placed.get(a.register.agentId) ?? NOTHING_PLACED;
      const cap = a.register.capacity;
      return {
        agentId: a.register.agentId,
        totalCpu: cap.cpu,
        totalMemoryMiB: cap.memoryMib,
        allGpus: cap.gpus,
        freeCpu: cap.cpu - mine.cpu,
        freeMemoryMiB: cap.memoryMib - mine.memoryMiB,
        freeGpus: cap.gpus.filter((_, i) => !mine.gpuIndices.has(i)),
        startingContainers: mine.starting,
      };
    });
  }

  /** What the region has placed on each agent (absent: nothing), in one pass over its containers. */
  placedByAgent(): Map<string, Placed> {
    const placed = new Map<string, Placed>();
    for (const c of this.containers.values()) {
      let p = placed.get(c.agentId);
      if (!p) placed.set(c.agentId, (p = { cpu: 0, memoryMiB: 0, gpuIndices: new Set(), containers: 0, starting: 0 }));
      p.cpu += c.cpu;
      p.memoryMiB += c.memoryMiB;
      for (const g of c.gpuIndices) p.gpuIndices.add(g);
      p.containers++;
      if (c.state === "starting") p.starting++;
    }
    return placed;
  }

  /**
   * Free room for `functionId`: ask the longest-idle containers of other functions to stop
   * (idle warm containers are a cache). Returns how many were asked.
   */
  evictIdle(count: number, functionId: string): number {
    const idle = [...this.containers.values()]
      // A cluster's ranks are never evicted one by one: the cluster scales down as a whole.
      .filter((c) => c.functionId !== functionId && c.idleSince !== undefined && !c.evicting && c.clusterId === undefined)
      .sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0))
      .slice(0, count);
    for (const c of idle) {
      c.evicting = true;
      this.agents.get(c.agentId)?.send({ body: "stop", stop: { containerId: c.containerId, reason: "evicted for another function" } });
    }
    return idle.length;
  }

  /** Stop the `count` longest-idle containers of `functionId` (the autoscaler released them). */
  stopIdle(functionId: string, count: number, reason: string): number {
    const idle = this.liveContainers(functionId)
      .filter((c) => c.state === "running" && c.idleSince !== undefined && c.clusterId === undefined)
      .sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0))
      .slice(0, count);
    for (const c of idle) {
      c.evicting = true;
      this.agents.get(c.agentId)?.send({ body: "stop", stop: { containerId: c.containerId, reason } });
    }
    return idle.length;
  }

  /** Containers of `functionId` to stop (app stopped). */
  stopFunction(functionId: string, reason: string): void {
    for (const c of this.liveContainers(functionId)) {
      this.agents.get(c.agentId)?.send({ body: "stop", stop: { containerId: c.containerId, reason } });
    }
  }
}

