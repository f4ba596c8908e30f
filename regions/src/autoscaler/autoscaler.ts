import type { JetStreamManager } from "@nats-io/jetstream";
import { Limits, newId, resolveFunctionOptions, Streams, type FunctionRow, type ResolvedFunctionOptions } from "@ferry/core";
import type { Fleet } from "../agents/fleet.ts";
import type { Broker } from "../broker/broker.ts";
import type { Provisioner } from "../broker/provisioner.ts";
import { explainGangNoFit, gangGroupsWithRoom, type GangNode, type GangRequest } from "../scheduler/gang-fit.ts";
import { containersToStart } from "../scheduler/plan-scale.ts";
import { DEFAULT_MAX_IDLE_S, ScalePolicy, type ScalePolicyOptions } from "./scale-policy.ts";
import { explainNoFit, placeContainer } from "../scheduler/place-container.ts";

/** How often active functions' queues are looked at. Enqueues also trigger a look at once. */
export const AUTOSCALE_INTERVAL_MS = 200;
/** A function stays active this long after its queue was last seen non-empty. */
const ACTIVE_FOR_MS = 5_000;
/** A look waits this long for a provider's answer, so a stock-out everywhere reaches the caller as an error. */
const PROVISION_DECISION_WAIT_MS = 2_000;
/** The port rank 0 of a cluster is told to listen on (`MASTER_PORT`, as torch.distributed expects). */
export const CLUSTER_MASTER_PORT = 29_500;

/** Wait before starting another container of a function whose containers fail to start. */
export const crashLoopBackoffMs = (consecutiveFailures: number): number =>
  Math.min(30_000, 500 * 2 ** Math.max(0, consecutiveFailures - 1));

interface ActiveFunction {
  fn: FunctionRow;
  options: ResolvedFunctionOptions;
  lastBusy: number;
  reconciling: boolean;
  again: boolean;
  /** Why the last attempt could not place a container, if it could not. */
  unplaceable?: string;
}

/**
 * Scales each function's containers to its load. Every look asks the function's `ScalePolicy`
 * (which learns its arrival pattern) how many containers to have: it starts containers for the
 * inputs running and waiting, keeps idle ones warm while a request is likely and tells the region
 * to stop them when not, within `minContainers`, `maxContainers`, `bufferContainers` and the
 * user's `scaledownWindow` (the longest a container idles). Containers also stop themselves after
 * that longest idle time, should the region be gone. Clusters scale as whole units.
 */
export class Autoscaler {
  private readonly active = new Map<string, ActiveFunction>();
  /** What each function's policy has learned outlives the function being watched. */
  private readonly policies = new Map<string, ScalePolicy>();
  private timer: ReturnType<typeof setInterval> | undefined;

  private readonly deps: { readonly jsm: JetStreamManager; readonly fleet: Fleet; readonly broker: Broker; readonly provisioner: Provisioner };

  constructor(deps: { readonly jsm: JetStreamManager; readonly fleet: Fleet; readonly broker: Broker; readonly provisioner: Provisioner }) {
    this.deps = deps;
    // Only functions this autoscaler watches learn (sandboxes are placed by the broker too).
    deps.fleet.containerReadyListeners.push((c, startMs) => {
      if (this.active.has(c.functionId)) this.policyFor(c.functionId).observeColdStart(startMs);
    });
    deps.fleet.onChange = (ids) => {
      const targets = ids.size > 0 ? [...ids] : [...this.active.keys()];
      for (const id of targets) void this.reconcile(id);
    };
  }

  start(): void {
    this.timer = setInterval(() => {
      for (const id of this.active.keys()) void this.reconcile(id);
    }, AUTOSCALE_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private policyFor(functionId: string): ScalePolicy {
    let p = this.policies.get(functionId);
    if (!p) this.policies.set(functionId, (p = new ScalePolicy()));
    return p;
  }

  /** Work arrived for `fn` (`arrivals` queue messages): make sure it is watched and look at it now. */
  touch(fn: FunctionRow, arrivals = 0): Promise<void> {
    if (arrivals > 0) this.policyFor(fn.id).observeArrival(Date.now(), arrivals);
    const existing = this.active.get(fn.id);
    if (existing) {
      existing.fn = fn;
      existing.options = resolveFunctionOptions(fn.options);
      existing.lastBusy = Date.now();
    } else {
      this.active.set(fn.id, { fn, options: resolveFunctionOptions(fn.options), lastBusy: Date.now(), reconciling: false, again: false });
    }
    return this.reconcile(fn.id);
  }

  /** Work arrived for a function that has containers: keep watching it, without a look now. */
  markBusy(fn: FunctionRow, arrivals = 0): void {
    const existing = this.active.get(fn.id);
    if (!existing) return void this.touch(fn, arrivals);
    existing.lastBusy = Date.now();
    if (arrivals > 0) this.policyFor(fn.id).observeArrival(Date.now(), arrivals);
  }

  /** Whether the function has containers starting or running. */
  hasLiveContainers(functionId: string): boolean {
    return this.deps.fleet.liveContainers(functionId).length > 0;
  }

  /** The reason the function's work cannot be placed at all, if so. */
  unplaceableReason(functionId: string): string | undefined {
    return this.active.get(functionId)?.unplaceable;
  }

  /** Forget a function (its app stopped) and stop its containers. */
  forget(functionId: string): void {
    this.active.delete(functionId);
    this.deps.fleet.stopFunction(functionId, "app stopped");
  }

  private async reconcile(functionId: string): Promise<void> {
    const a = this.active.get(functionId);
    if (!a) return;
    if (a.reconciling) {
      a.again = true;
      return;
    }
    a.reconciling = true;
    try {
      do {
        a.again = false;
        await this.reconcileOnce(a);
      } while (a.again);
    } catch {
      // The queue may not exist yet or NATS is reconnecting; the next tick tries again.
    } finally {
      a.reconciling = false;
    }
  }

  private async reconcileOnce(a: ActiveFunction): Promise<void> {
    const info = await this.deps.jsm.consumers.info(Streams.functionQueue(a.fn.id), Streams.workersConsumer);
    // Web endpoint requests on the fast path are load the queue does not see.
    const fastInFlight = this.deps.fleet.fastInFlight(a.fn.id);
    const outstanding = info.num_pending + info.num_ack_pending + fastInFlight;
    const live = this.deps.fleet.liveContainers(a.fn.id);
    const now = Date.now();
    if (outstanding > 0) a.lastBusy = now;
    const perContainer = a.options.maxInputs * (a.options.batch?.maxBatchSize ?? 1);
    const policy = this.policyFor(a.fn.id);
    const policyOptions: ScalePolicyOptions = {
      minContainers: a.options.minContainers, maxContainers: a.options.maxContainers, bufferContainers: a.options.bufferContainers,
      scaledownWindowS: a.fn.options.scaledownWindow, maxInputs: perContainer,
    };
    if (live.length === 0 && a.options.minContainers === 0 && outstanding === 0 && now - a.lastBusy > ACTIVE_FOR_MS && now >= policy.settlesAt(now, policyOptions)) {
      this.active.delete(a.fn.id);
      return;
    }
    let toStart: number;
    if (a.options.cluster) {
      // A cluster counts as one unit: its rank 0 takes the inputs and fans them out.
      toStart = containersToStart({
        outstandingBatches: outstanding, liveContainers: live.filter((c) => c.rank === 0).length, minContainers: a.options.minContainers,
        maxContainers: a.options.maxContainers, bufferContainers: a.options.bufferContainers, messagesPerContainer: perContainer,
      });
    } else {
      const idle = live.filter((c) => c.state === "running" && c.idleSince !== undefined);
      const plan = policy.plan(now, {
        busy: info.num_ack_pending + fastInFlight, queued: info.num_pending, live: live.length, idle: idle.length,
        starting: live.filter((c) => c.state === "starting").length, options: policyOptions,
      });
      toStart = plan.start;
      if (plan.release > 0) this.deps.fleet.stopIdle(a.fn.id, plan.release, "released by the autoscaler: no request expected soon");
    }
    const failures = this.deps.fleet.startFailures.get(a.fn.id);
    if (failures && Date.now() - failures.last < crashLoopBackoffMs(failures.count)) return;
    const request = { cpu: a.options.cpu, memoryMiB: a.options.memory, gpu: a.options.gpu };
    if (toStart === 0) {
      a.unplaceable = undefined;
      return;
    }
    if (a.options.cluster) {
      await this.startClusters(a, toStart, { request, size: a.options.cluster.size, rdma: a.options.cluster.rdma });
      return;
    }
    const provisioner = this.deps.provisioner;
    const providersCanServe = provisioner.enabled && provisioner.canQuote(a.options);
    const noAgentFits = explainNoFit(this.deps.fleet.slots(), request);
    if (noAgentFits !== undefined) {
      // No connected agent could ever take it: a provider may start a node that can.
      if (!providersCanServe) {
        a.unplaceable = provisioner.enabled ? `${noAgentFits}, and no capacity provider offers it` : noAgentFits;
        return;
      }
      await this.provision(a, toStart);
      return;
    }
    const { started } = await this.deps.broker.place({ fn: a.fn, options: this.agentOptions(a), count: toStart });
    a.unplaceable = undefined;
    if (started.length < toStart) {
      // Out of room (not merely pacing starts): make room from idle containers of other
      // functions, else bring a new node; the next look places.
      const unpaced = this.deps.fleet.slots().map((s) => ({ ...s, startingContainers: 0 }));
      if (!placeContainer(unpaced, request)) {
        const evicted = this.deps.fleet.evictIdle(toStart - started.length, a.fn.id);
        if (evicted === 0 && providersCanServe) await this.provision(a, toStart - started.length);
      }
    }
  }

  /** Gang-place `count` clusters, each within one fabric (or the region without RDMA), all ranks or none. */
  private async startClusters(a: ActiveFunction, count: number, gang: GangRequest): Promise<void> {
    const nodes = this.gangNodes();
    a.unplaceable = explainGangNoFit(nodes, gang);
    if (a.unplaceable !== undefined) return;
    for (let i = 0; i < count; i++) {
      let placed = false;
      for (const agentIds of gangGroupsWithRoom(this.gangNodes(), gang)) {
        const clusterId = newId("cl", 10);
        const { started } = await this.deps.broker.place(
          { fn: a.fn, options: this.agentOptions(a), count: gang.size, agentIds, allOrNothing: true },
          (rank, ranks, agentOf) => ({
            FERRY_CLUSTER_ID: clusterId,
            RANK: String(rank),
            WORLD_SIZE: String(gang.size),
            LOCAL_RANK: String(ranks.slice(0, rank).filter((r) => r.agentId === ranks[rank]?.agentId).length),
            MASTER_ADDR: agentOf(ranks[0]!.agentId)?.register.address || "127.0.0.1",
            MASTER_PORT: String(CLUSTER_MASTER_PORT),
          }),
        );
        if (started.length === gang.size) {
          placed = true;
          break;
        }
      }
      // No fabric has room for a whole cluster now: wait for containers to end.
      if (!placed) return;
    }
  }

  /**
   * The options a container is started with: its own idle stop is only a safety net, set to the
   * longest idle the policy allows (never, while `minContainers` must stay up); the region stops
   * idle containers when the policy releases them.
   */
  private agentOptions(a: ActiveFunction): ResolvedFunctionOptions {
    const safetyS = a.options.minContainers > 0 ? Limits.maxScaledownWindowS : (a.fn.options.scaledownWindow ?? DEFAULT_MAX_IDLE_S);
    return { ...a.options, scaledownWindowS: safetyS };
  }

  private gangNodes(): ReadonlyArray<GangNode> {
    return this.deps.fleet.slots().map((s) => ({ ...s, fabric: this.deps.fleet.agents.get(s.agentId)?.register.fabric ?? "" }));
  }

  private async provision(a: ActiveFunction, count: number): Promise<void> {
    const done = this.deps.provisioner.ensureCapacity(a.fn.id, a.options, count);
    await Promise.race([done, new Promise((r) => setTimeout(r, PROVISION_DECISION_WAIT_MS))]);
    a.unplaceable = this.deps.provisioner.lastFailure.get(a.fn.id);
  }
}
