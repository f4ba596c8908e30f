import { Effect } from "effect";
import type { UsageRecord, UsageStore } from "@ferry/core";
import type { Fleet, TrackedContainer } from "../agents/fleet.ts";

/** Live containers' usage is written at least this often, so `ferry usage` is never far behind. */
export const METER_FLUSH_MS = 10_000;

/**
 * Per-second metering: every container is billed from the moment the region asked for it until
 * its agent reports it gone, at its share of its node's price. Intervals are appended as the
 * container lives (every `METER_FLUSH_MS`) and when it ends, so nothing is lost if the region
 * restarts mid-life beyond the last interval.
 *
 * @example
 * ```ts
 * const meter = new Meter({ region: "us-east", fleet, usage });
 * meter.start();
 * ```
 */
export class Meter {
  private readonly meteredUntil = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly deps: { readonly region: string; readonly fleet: Fleet; readonly usage: UsageStore["Service"]; readonly now?: () => number };
  private writing: Promise<unknown> = Promise.resolve();

  constructor(deps: { readonly region: string; readonly fleet: Fleet; readonly usage: UsageStore["Service"]; readonly now?: () => number }) {
    this.deps = deps;
    deps.fleet.containerGoneListeners.push((c) => {
      this.write([this.interval(c, this.now())]);
      this.meteredUntil.delete(c.containerId);
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), METER_FLUSH_MS);
  }

  /** Stop the timer and write every live container's usage up to now. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Write every live container's usage since it was last written. */
  flush(): Promise<unknown> {
    const now = this.now();
    const records = [...this.deps.fleet.containers.values()].map((c) => this.interval(c, now));
    for (const c of this.deps.fleet.containers.values()) this.meteredUntil.set(c.containerId, now);
    return this.write(records);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private interval(c: TrackedContainer, end: number): UsageRecord {
    return {
      workspaceId: c.workspaceId, appId: c.appId, appName: c.appName, functionId: c.functionId, functionName: c.functionName,
      containerId: c.containerId, agentId: c.agentId, region: this.deps.region, cloud: c.cloud, gpuType: c.gpuType,
      gpuCount: c.gpuIndices.length, cpu: c.cpu, memoryMiB: c.memoryMiB,
      startMs: this.meteredUntil.get(c.containerId) ?? c.startedAt, endMs: end, pricePerSecond: c.pricePerSecond,
    };
  }

  private write(records: ReadonlyArray<UsageRecord>): Promise<unknown> {
    const nonEmpty = records.filter((r) => r.endMs > r.startMs);
    this.writing = this.writing.then(() => Effect.runPromise(this.deps.usage.record(nonEmpty))).catch(() => undefined);
    return this.writing;
  }
}
