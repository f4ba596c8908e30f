import { Effect } from "effect";
import { encodeValue, newId, Subjects, type Bus, type CallEvent, type FunctionRow, type Storage } from "@ferry/core";
import type { Autoscaler } from "../autoscaler/autoscaler.ts";
import { planInputBatches, publishInputBatches } from "../calls/enqueue-inputs.ts";
import { claimTick, pruneTickRuns, releaseTick, type TickClaim } from "./schedule-claims.ts";
import { dueTick } from "./schedule-ticks.ts";
import { listScheduledFunctions, type ScheduledFunction } from "./scheduled-functions.ts";

/** How often the scheduler looks for due ticks: a tick runs at most this late (plus the claim). */
export const SCHEDULER_POLL_MS = 200;
/** How often the list of scheduled functions is re-read: a deploy, redeploy or stop shows within it. */
export const SCHEDULE_REFRESH_MS = 1_000;
/** A tick missed by more than this (the region was down) is skipped, not run late. */
export const SCHEDULE_MAX_LATENESS_MS = 10_000;
/** Claims are kept this long (a history of scheduled runs), then pruned. */
export const SCHEDULE_RUN_RETENTION_MS = 7 * 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 3600 * 1000;

export interface SchedulerDeps {
  readonly region: string;
  readonly storage: Storage["Service"];
  readonly bus: Bus["Service"];
  readonly autoscaler: Autoscaler;
  readonly log?: (line: string) => void;
}

/**
 * Runs scheduled functions (`schedule: Cron(…)` or `Period(…)`) of running deployed apps that may
 * run in this region. Every region server runs one; each due tick is claimed in libSQL before it
 * is enqueued, so it runs once across the platform however many servers saw it. A server that
 * loses a claim still looks at the function's queue, so the tick is served by whichever server
 * has room for it.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler({ region: "us-east", storage, bus, autoscaler });
 * scheduler.start();
 * ```
 */
export class Scheduler {
  private readonly deps: SchedulerDeps;
  private functions: ReadonlyArray<ScheduledFunction> = [];
  private refreshedAt = 0;
  private prunedAt = 0;
  /** Per function (and schedule), the time up to which its ticks were handled. */
  private readonly handledUntil = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private looking = false;

  constructor(deps: SchedulerDeps) {
    this.deps = deps;
  }

  start(): void {
    this.timer = setInterval(() => void this.look(), SCHEDULER_POLL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look: refresh the list when due, then run every tick that came due since the last look. */
  async look(now = Date.now()): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    try {
      if (now - this.refreshedAt >= SCHEDULE_REFRESH_MS) await this.refresh(now);
      if (now - this.prunedAt >= PRUNE_EVERY_MS) {
        this.prunedAt = now;
        await pruneTickRuns(this.deps.storage.client, now - SCHEDULE_RUN_RETENTION_MS).catch(() => undefined);
      }
      await Promise.all(this.functions.map((f) => this.runDue(f, now)));
    } catch (e) {
      this.deps.log?.(`scheduler: ${(e as Error).message}`);
    } finally {
      this.looking = false;
    }
  }

  private async refresh(now: number): Promise<void> {
    const all = await listScheduledFunctions(this.deps.storage.client);
    this.functions = all.filter((f) => f.regions.length === 0 || f.regions.includes(this.deps.region));
    this.refreshedAt = now;
    const live = new Set(this.functions.map(keyOf));
    for (const k of this.handledUntil.keys()) if (!live.has(k)) this.handledUntil.delete(k);
  }

  private async runDue(f: ScheduledFunction, now: number): Promise<void> {
    const key = keyOf(f);
    const since = Math.max(this.handledUntil.get(key) ?? 0, now - SCHEDULE_MAX_LATENESS_MS);
    const tickMs = dueTick(f.schedule, f.anchorMs, since, now);
    if (tickMs === undefined) return void this.handledUntil.set(key, now);
    // The list may be a second old: an app stopped (or a function dropped) since is not run.
    const fn = await Effect.runPromise(this.deps.storage.getFunction(f.functionId));
    if (fn.appState !== "running" || fn.removed) return void this.handledUntil.set(key, now);
    const claim: TickClaim = { functionId: f.functionId, tickMs, callId: newId("fc"), region: this.deps.region };
    // A failed claim (libSQL away) leaves the tick unhandled, to be tried again on the next look.
    const won = await claimTick(this.deps.storage.client, claim, now);
    this.handledUntil.set(key, now);
    if (!won) {
      // Another server runs it; look at the queue here too, in case this server has the room.
      await Effect.runPromise(this.deps.bus.ensureFunctionQueue(fn.id)).catch(() => undefined);
      void this.deps.autoscaler.touch(fn);
      return;
    }
    try {
      await this.enqueue(fn, claim);
      this.deps.log?.(`scheduled run of ${f.appName}.${f.functionName} for ${new Date(tickMs).toISOString()} (call ${claim.callId})`);
    } catch (e) {
      await releaseTick(this.deps.storage.client, claim).catch(() => undefined);
      this.handledUntil.set(key, since);
      throw e;
    }
  }

  /** One input with no arguments, as a closed call of its own; its output is kept like any call's. */
  private async enqueue(fn: FunctionRow, claim: TickClaim): Promise<void> {
    const { storage, bus } = this.deps;
    await Effect.runPromise(storage.createCall({ id: claim.callId, workspaceId: fn.workspaceId, functionId: fn.id, region: claim.region, createdAt: Date.now() }));
    await Effect.runPromise(bus.ensureFunctionQueue(fn.id));
    const args = encodeValue([], "args");
    const batches = planInputBatches({ callId: claim.callId, functionId: fn.id, appId: fn.appId }, 0, [{ value: args, json: JSON.stringify(args) }]);
    await publishInputBatches(bus.js, fn.id, batches);
    const closed: CallEvent = { type: "closed", total: 1 };
    await bus.js.publish(Subjects.callEvents(claim.callId), JSON.stringify(closed));
    await this.deps.autoscaler.touch(fn, batches.length);
  }
}

/** A redeploy that changes the schedule or re-anchors it starts the function afresh. */
const keyOf = (f: ScheduledFunction): string => `${f.functionId}\n${f.anchorMs}\n${JSON.stringify(f.schedule)}`;
