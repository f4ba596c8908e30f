/**
 * One pre-started sandbox of the warm pool: bubblewrap running Node and the runner, its app
 * directory (a per-sandbox host directory bound read-only at /opt/ferry/app) still empty, the
 * runner waiting on its control channel for an `assign`.
 */
import { copyFile, link } from "node:fs/promises";
import { join } from "node:path";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { lineSplitter, type FromRunner, type ToRunner } from "../runner/runner-protocol.ts";

/** A pooled sandbox's neutral identity, fixed at start: its id (cgroup, hostname) and app directory on the host. */
export interface WarmSlot {
  /** `wp-…`: the sandbox's id; its hostname is `ferry-wp-…` whatever container it later serves. */
  readonly id: string;
  /** Host directory bound read-only at /opt/ferry/app; the bundle is placed here at assignment. */
  readonly appDir: string;
}

/** What makes a pooled sandbox one container's: the app bundle and the container's environment. */
export interface WarmAssignment {
  /** The container it now serves (for the caller's bookkeeping; the sandbox keeps its neutral id). */
  readonly containerId: string;
  /** The app bundle on the host; hard-linked (or copied) into the slot's app directory as app.mjs. */
  readonly bundlePath: string;
  /** The container's environment, exactly as a sandbox started for it would get it. */
  readonly env: Readonly<Record<string, string>>;
}

/** File name of the bundle in the app directory (`/opt/ferry/app/app.mjs` inside). */
export const WARM_BUNDLE_FILE = "app.mjs";

/**
 * A pre-started sandbox, used at most once: `assign` gives it to one container; it is never
 * returned to the pool (the container's end destroys it, like any sandbox).
 *
 * @example
 * ```ts
 * const warm = new WarmSandbox(slot, startSandbox(spec), 30_000);
 * if (await warm.ready) await warm.assign({ containerId: "ct-1", bundlePath, env: { FERRY_APP: "shop" } });
 * ```
 */
export class WarmSandbox {
  readonly slot: WarmSlot;
  readonly sandbox: Sandbox;
  /** Resolves true once the runner says it waits; false when the sandbox ended or took longer than allowed. */
  readonly ready: Promise<boolean>;
  private up = false;
  private assigned = false;

  constructor(slot: WarmSlot, sandbox: Sandbox, readyTimeoutMs: number) {
    this.slot = slot;
    this.sandbox = sandbox;
    let settle: (ok: boolean) => void = () => {};
    this.ready = new Promise<boolean>((resolve) => (settle = resolve));
    const onData = lineSplitter((line) => {
      if (!line) return;
      let msg: FromRunner | undefined;
      try {
        msg = JSON.parse(line) as FromRunner;
      } catch {
        msg = undefined;
      }
      if (msg?.t !== "waiting") return;
      this.up = true;
      // The runner sends nothing more until it is assigned; the container's RunnerConnection listens from then on.
      sandbox.control.off("data", onData);
      clearTimeout(timer);
      settle(true);
    });
    sandbox.control.on("data", onData);
    const timer = setTimeout(() => {
      sandbox.control.off("data", onData);
      sandbox.kill("SIGKILL");
      settle(false);
    }, readyTimeoutMs);
    timer.unref();
    void sandbox.exited.then(() => {
      clearTimeout(timer);
      settle(false);
    });
  }

  /** Up and waiting, not yet given to a container. */
  get idle(): boolean {
    return this.up && !this.assigned;
  }

  /**
   * Give this sandbox to one container: place the bundle in its app directory, then send the
   * container's environment. The caller then talks to the runner as to any sandbox's (`load`, inputs).
   * Throws when it was already assigned or the bundle cannot be placed (the caller kills it).
   */
  async assign(assignment: WarmAssignment): Promise<Sandbox> {
    if (this.assigned) throw new Error(`warm sandbox ${this.slot.id} was already assigned`);
    this.assigned = true;
    const target = join(this.slot.appDir, WARM_BUNDLE_FILE);
    // A hard link costs nothing; across file systems (or where links are refused) a copy does.
    await link(assignment.bundlePath, target).catch(() => copyFile(assignment.bundlePath, target));
    const message: ToRunner = { t: "assign", env: assignment.env };
    this.sandbox.control.write(`${JSON.stringify(message)}\n`);
    return this.sandbox;
  }
}
