/**
 * The agent's warm pool: a few sandboxes started ahead of demand for the common container shape
 * (see warm-fit.ts), each running Node and the runner and waiting for a container. A cold start
 * that takes one pays only for placing the bundle and importing the app.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Limits } from "@ferry/core";
import type { SandboxNetwork } from "../sandbox/bwrap-args.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { WarmSandbox, type WarmAssignment, type WarmSlot } from "./warm-sandbox.ts";

/** How long after a take the pool starts its replacement, so the refill does not compete with the cold start that took it. */
export const DEFAULT_WARM_REFILL_DELAY_MS = 250;
/** A pooled runner that does not report within this long is killed (and replaced, with backoff). */
export const WARM_READY_TIMEOUT_MS = 30_000;
/** Longest wait between attempts when pooled sandboxes keep dying or failing to start. */
const MAX_BACKOFF_MS = 30_000;
/** Mode of the app directories: the unprivileged host user the sandbox runs as must read them. */
const APP_DIR_MODE = 0o755;

/** Options of a warm pool. */
export interface WarmPoolOptions {
  /** Sandboxes kept waiting (0 disables the pool); at most `Limits.maxWarmPoolSize`. */
  readonly size: number;
  /** The network mode of every pooled sandbox; containers needing another mode are not served. */
  readonly network: SandboxNetwork;
  /** Host directory holding the pooled sandboxes' app directories; the pool owns it (a previous agent's leftovers are removed). */
  readonly dir: string;
  /** Start the pooled sandbox for `slot` (the agent's spec: image, runner, `slot.appDir` at /opt/ferry/app, `network`). */
  readonly start: (slot: WarmSlot) => Sandbox;
  /** Hold the node's resources for one pooled sandbox; false when there is no room (the pool then stays smaller). */
  readonly reserve?: (slotId: string) => boolean;
  /** Give back what `reserve` held (the sandbox was taken by a container, or ended). */
  readonly release?: (slotId: string) => void;
  /** Delay before replacing a taken sandbox (default `DEFAULT_WARM_REFILL_DELAY_MS`). */
  readonly refillDelayMs?: number;
  /** How long a pooled runner may take to report (default `WARM_READY_TIMEOUT_MS`). */
  readonly readyTimeoutMs?: number;
  /** Problems starting pooled sandboxes (the pool retries with backoff). */
  readonly onError?: (message: string) => void;
}

/** Counters of a warm pool, for tests, benchmarks and operators. */
export interface WarmPoolStats {
  /** Sandboxes the pool aims to keep waiting. */
  readonly size: number;
  /** Up and waiting for a container now. */
  readonly idle: number;
  /** Started, runner not up yet. */
  readonly starting: number;
  /** Sandboxes the pool has started since it was created. */
  readonly started: number;
  /** Sandboxes given to containers. */
  readonly taken: number;
  /** Pooled sandboxes that ended (killed, crashed, timed out) before any container took them. */
  readonly lost: number;
}

/** Throws a clear error unless `size` is a whole number of sandboxes within the limit. */
export const assertWarmPoolSize = (size: number): void => {
  if (!Number.isInteger(size) || size < 0 || size > Limits.maxWarmPoolSize) {
    throw new RangeError(`warm pool size must be a whole number from 0 (off) to ${Limits.maxWarmPoolSize}, got ${size}`);
  }
};

/**
 * Pre-started sandboxes waiting for containers. Each is used at most once: `take` removes it from
 * the pool for good and a replacement starts in the background; a pooled sandbox that dies is
 * replaced too. A taken sandbox is never returned: the container's end destroys it.
 *
 * @example
 * ```ts
 * const pool = new WarmPool({ size: 2, network: "none", dir: join(stateDir, "warm-pool"), start: (slot) => startSandbox(specFor(slot)) });
 * const sandbox = await pool.take({ containerId: "ct-1", bundlePath, env }); // undefined: none waiting, start one instead
 * ```
 */
export class WarmPool {
  readonly network: SandboxNetwork;
  private readonly opts: WarmPoolOptions;
  private target: number;
  /** Sandboxes in the pool (starting or waiting), oldest first; taken ones leave it. */
  private readonly pooled = new Set<WarmSandbox>();
  private fillTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private closed = false;
  private counts = { started: 0, taken: 0, lost: 0 };

  constructor(opts: WarmPoolOptions) {
    assertWarmPoolSize(opts.size);
    this.opts = opts;
    this.network = opts.network;
    this.target = opts.size;
    // App directories a previous agent left (it died with its sandboxes): nothing uses them.
    rmSync(opts.dir, { recursive: true, force: true });
    if (this.target > 0) this.fill();
  }

  /** Counters: how many wait now, how many were started, taken and lost. */
  stats(): WarmPoolStats {
    const idle = [...this.pooled].filter((w) => w.idle).length;
    return { size: this.target, idle, starting: this.pooled.size - idle, ...this.counts };
  }

  /** Resolves once `count` sandboxes (default: the pool's size) wait, or rejects after `timeoutMs`. */
  async whenIdle(count = this.target, timeoutMs = WARM_READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats().idle < count) {
      if (Date.now() > deadline) throw new Error(`the warm pool has ${this.stats().idle} of ${count} sandboxes waiting after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Change how many sandboxes wait (0 turns the pool off): extra ones are killed, missing ones started. */
  resize(size: number): void {
    assertWarmPoolSize(size);
    this.target = size;
    const extra = [...this.pooled].sort((a, b) => Number(a.idle) - Number(b.idle)).slice(0, Math.max(0, this.pooled.size - size));
    for (const w of extra) this.discard(w);
    this.fill();
  }

  /**
   * A waiting sandbox given to one container (see `WarmSandbox.assign`), or undefined when none
   * waits or it could not be assigned: the caller then starts a sandbox the normal way.
   */
  async take(assignment: WarmAssignment): Promise<Sandbox | undefined> {
    const warm = [...this.pooled].find((w) => w.idle);
    if (!warm || this.closed) return undefined;
    this.pooled.delete(warm);
    this.opts.release?.(warm.slot.id);
    this.counts.taken++;
    this.scheduleFill(this.opts.refillDelayMs ?? DEFAULT_WARM_REFILL_DELAY_MS);
    try {
      return await warm.assign(assignment);
    } catch (e) {
      warm.sandbox.kill("SIGKILL");
      this.opts.onError?.(`warm sandbox ${warm.slot.id} could not be given to container ${assignment.containerId}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Kill the waiting sandboxes to give their resources back (a start needs the room); the pool refills later. */
  drain(): number {
    const idle = [...this.pooled];
    for (const w of idle) this.discard(w);
    this.scheduleFill(this.opts.refillDelayMs ?? DEFAULT_WARM_REFILL_DELAY_MS);
    return idle.length;
  }

  /** Start sandboxes until the pool has its size (resources allowing); call when resources were freed. */
  fill(): void {
    clearTimeout(this.fillTimer);
    this.fillTimer = undefined;
    while (!this.closed && this.pooled.size < this.target) {
      const slot: WarmSlot = { id: `wp-${randomBytes(6).toString("hex")}`, appDir: "" };
      if (this.opts.reserve && !this.opts.reserve(slot.id)) return;
      if (!this.startOne({ ...slot, appDir: join(this.opts.dir, slot.id) })) return;
    }
  }

  /** Kill every pooled sandbox and start no more; resolves once they are gone. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.fillTimer);
    const all = [...this.pooled];
    for (const w of all) this.discard(w);
    await Promise.all(all.map((w) => w.sandbox.exited));
  }

  private startOne(slot: WarmSlot): boolean {
    let sandbox: Sandbox;
    try {
      mkdirSync(slot.appDir, { recursive: true, mode: APP_DIR_MODE });
      chmodSync(slot.appDir, APP_DIR_MODE);
      sandbox = this.opts.start(slot);
    } catch (e) {
      this.opts.release?.(slot.id);
      void rm(slot.appDir, { recursive: true, force: true });
      this.opts.onError?.(`could not start a warm pool sandbox: ${(e as Error).message}`);
      this.retryLater();
      return false;
    }
    const warm = new WarmSandbox(slot, sandbox, this.opts.readyTimeoutMs ?? WARM_READY_TIMEOUT_MS);
    this.pooled.add(warm);
    this.counts.started++;
    void warm.ready.then((up) => {
      if (up) this.failures = 0;
    });
    void sandbox.exited.then(async () => {
      await rm(slot.appDir, { recursive: true, force: true }).catch(() => undefined);
      // Still pooled: it ended before any container took it (killed, crashed, never came up).
      if (!this.pooled.delete(warm)) return;
      this.opts.release?.(slot.id);
      this.counts.lost++;
      this.retryLater();
    });
    return true;
  }

  /** Remove a pooled sandbox on purpose (resize, drain, close): no replacement for it. */
  private discard(warm: WarmSandbox): void {
    if (!this.pooled.delete(warm)) return;
    this.opts.release?.(warm.slot.id);
    warm.sandbox.kill("SIGKILL");
  }

  private retryLater(): void {
    this.failures++;
    const base = this.opts.refillDelayMs ?? DEFAULT_WARM_REFILL_DELAY_MS;
    this.scheduleFill(Math.min(MAX_BACKOFF_MS, Math.max(base, 100) * 2 ** (this.failures - 1)));
  }

  private scheduleFill(delayMs: number): void {
    if (this.closed || this.fillTimer !== undefined) return;
    this.fillTimer = setTimeout(() => this.fill(), delayMs);
    this.fillTimer.unref();
  }
}
