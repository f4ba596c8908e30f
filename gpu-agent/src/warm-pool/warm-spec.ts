/**
 * The bubblewrap spec of a pooled sandbox: everything a container of the pooled shape gets at
 * start, minus what is the container's own. Those parts are made generic: the app directory is
 * the slot's (empty until assignment), the environment only marks the runner as pooled (the
 * container's arrives with `assign`), and the id (so the hostname and cgroup name) is the slot's.
 */
import type { RootfsEntry, SandboxLimits, SandboxNetwork, SandboxSpec } from "../sandbox/bwrap-args.ts";
import { WARM_POOL_ENV } from "./runner-assignment.ts";
import type { WarmSlot } from "./warm-sandbox.ts";

/** What a pooled sandbox shares with every sandbox the agent starts for a container of the pooled shape. */
export interface WarmSpecBase {
  /** The default image's entries. */
  readonly rootfs: readonly RootfsEntry[];
  /** Host directory holding the bundled runner, and where it appears inside. */
  readonly runnerDir: string;
  readonly runnerDirInSandbox: string;
  /** Where the app directory appears inside (the bundle is `<appDirInSandbox>/app.mjs`). */
  readonly appDirInSandbox: string;
  /** The runner's command line, as for any container. */
  readonly argv: readonly string[];
  /** The cgroup limits every container gets (fixed at start, so the same for all). */
  readonly limits: SandboxLimits;
  readonly network: SandboxNetwork;
  /** Device nodes a container without GPUs gets on this node (none on a CPU node). */
  readonly devices: readonly string[];
}

/**
 * The spec that starts `slot`'s pooled sandbox.
 *
 * @example
 * ```ts
 * startSandbox(warmSandboxSpec(slot, { rootfs: image, runnerDir, runnerDirInSandbox: "/opt/ferry/runner",
 *   appDirInSandbox: "/opt/ferry/app", argv, limits: { pids: 512 }, network: "outbound", devices: [] }));
 * ```
 */
export const warmSandboxSpec = (slot: WarmSlot, base: WarmSpecBase): SandboxSpec => ({
  id: slot.id,
  rootfs: base.rootfs,
  readOnlyBinds: [
    { hostPath: base.runnerDir, sandboxPath: base.runnerDirInSandbox },
    { hostPath: slot.appDir, sandboxPath: base.appDirInSandbox },
  ],
  env: { [WARM_POOL_ENV]: "1" },
  cwd: base.appDirInSandbox,
  argv: base.argv,
  network: base.network,
  limits: base.limits,
  devices: base.devices,
});
