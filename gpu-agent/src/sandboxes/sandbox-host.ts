import { chown, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { FUNCTION_APP_DIR, publishQuietly, NOT_RUNNABLE_EXIT_CODE, SANDBOX_WORKDIR, Subjects, Limits, type LogLine } from "@ferry/core";
import type { AgentMessage, ContainerReport, RegionCommand, SandboxStart, StartContainer, StartExec, TakeSnapshot } from "@ferry/core/node";
import type { BundleCache } from "../bundles/bundle-cache.ts";
import { InsufficientCapacityError, type ResourceLedger } from "../inventory/gpu-allocator.ts";
import { gpuDeviceNodes, type GpuInventory } from "../inventory/gpu-inventory.ts";
import { DEFAULT_UNPRIVILEGED_HOST_ID, SANDBOX_NODE_DIR, startSandbox, type RootfsEntry, type Sandbox, type SandboxNetwork } from "../sandbox/index.ts";
import type { ContainerImages } from "../images/container-images.ts";
import { mountImageRoot, type ContainerImageSpec } from "../images/mount-image-root.ts";
import { buildExecServer } from "./build-exec-server.ts";
import { ExecRelay } from "./exec-relay.ts";
import { SNAPSHOT_IN_SANDBOX } from "./exec-protocol.ts";
import { enterContainer } from "./nsenter-exec.ts";
import { SandboxContainer } from "./sandbox-container.ts";
import { SnapshotFiles } from "./snapshot-files.ts";

/** Where the exec server appears inside every sandbox. */
const EXEC_SERVER_DIR_IN_SANDBOX = "/opt/ferry/exec";
/** Processes and threads one sandbox may have (a shell session with tools stays far below). */
export const SANDBOX_PIDS_LIMIT = 1024;

/**
 * A sandbox's network mode, from the placement options the region sends with it (their `network`
 * is the sandbox's, or the function's it mirrors): "outbound" unless it says "none".
 *
 * @example
 * ```ts
 * sandboxNetwork({ optionsJson: '{"network":"none"}' }); // "none"
 * ```
 */
export const sandboxNetwork = (cmd: Pick<StartContainer, "optionsJson">): SandboxNetwork => {
  try {
    const options = JSON.parse(cmd.optionsJson) as { network?: unknown } | null;
    return options?.network === "none" ? "none" : "outbound";
  } catch {
    return "outbound";
  }
};

/**
 * The built image a sandbox starts from, from the placement options the region sends with it
 * (their `image`, as a function container's); undefined for the default image.
 *
 * @example
 * ```ts
 * sandboxImage({ optionsJson: '{"image":{"id":"3f0a…","env":{},"workdir":"/"}}' })?.id; // "3f0a…"
 * ```
 */
export const sandboxImage = (cmd: Pick<StartContainer, "optionsJson">): ContainerImageSpec | undefined => {
  try {
    const image = (JSON.parse(cmd.optionsJson) as { image?: Partial<ContainerImageSpec> } | null)?.image;
    if (typeof image?.id !== "string") return undefined;
    return { id: image.id, env: image.env ?? {}, workdir: image.workdir ?? "/", ...(image.root === "full" ? { root: "full" } : {}) };
  } catch {
    return undefined;
  }
};

export interface SandboxHostDeps {
  readonly nc: NatsConnection;
  readonly region: string;
  readonly cloud: string;
  readonly stateDir: string;
  readonly internalToken: string;
  /** The default image's entries (`defaultNodeImageBinds`). */
  readonly image: ReadonlyArray<RootfsEntry>;
  /** The node's built images, mounted for sandboxes that start from one as for function containers. */
  readonly images: ContainerImages;
  readonly gpus: GpuInventory;
  /** The node's resource ledger, shared with function containers. */
  readonly ledger: ResourceLedger;
  readonly bundles: BundleCache;
  readonly report: (report: ContainerReport) => void;
  readonly send: (message: AgentMessage) => void;
}

/**
 * The agent's side of sandboxes and of `ferry container exec`: starts sandbox containers (a
 * `start` whose `sandbox` is set), runs execs in them or, entering from the host, in function
 * containers, takes snapshots, and terminates sandboxes on `stop`.
 *
 * @example
 * ```ts
 * const sandboxes = new SandboxHost(deps);
 * const onCommand = (c: RegionCommand) => { if (sandboxes.handles(c)) return; … };
 * ```
 */
export class SandboxHost {
  private readonly deps: SandboxHostDeps;
  private readonly sandboxes = new Map<string, SandboxContainer>();
  /** Function containers' sandboxes, for `ferry container exec`. */
  private readonly functionSandboxes = new Map<string, { readonly sandbox: Sandbox; execs: number; readonly env?: Readonly<Record<string, string>> }>();
  private readonly execServer: Promise<string>;
  private readonly snapshots: SnapshotFiles;

  constructor(deps: SandboxHostDeps) {
    this.deps = deps;
    this.execServer = buildExecServer(join(deps.stateDir, "exec-server"));
    this.execServer.catch(() => undefined);
    this.snapshots = new SnapshotFiles(join(deps.stateDir, "snapshots"), deps.internalToken);
  }

  /** Sandboxes on this node (starting or running). */
  get size(): number {
    return this.sandboxes.size;
  }

  /** Handle `command` if it is about sandboxes or execs; `false` leaves it to the agent. */
  handles(command: RegionCommand): boolean {
    switch (command.body) {
      case "start":
        if (!command.start.sandbox) return false;
        this.start(command.start, command.start.sandbox);
        return true;
      case "stop": {
        const sandbox = this.sandboxes.get(command.stop.containerId);
        if (!sandbox) return false;
        sandbox.terminate(command.stop.reason || "terminated");
        return true;
      }
      case "exec":
        this.exec(command.exec);
        return true;
      case "snapshot":
        void this.snapshot(command.snapshot);
        return true;
      default:
        return false;
    }
  }

  /**
   * Remember a function container's sandbox while it lives, so execs can enter it. `env`: the
   * container's whole environment when its command did not start with it (a warm pool sandbox).
   */
  trackFunctionSandbox(containerId: string, sandbox: Sandbox, env?: Readonly<Record<string, string>>): void {
    this.functionSandboxes.set(containerId, { sandbox, execs: 0, env });
    void sandbox.exited.then(() => this.functionSandboxes.delete(containerId));
  }

  /** Heartbeat entries for the live sandboxes (never "idle": sandboxes are not evicted). */
  reports(): ContainerReport[] {
    return [...this.sandboxes.values()].filter((s) => s.state !== "stopped")
      .map((s) => ({ containerId: s.id, functionId: s.sandboxId, state: s.state === "running" ? "running" : "starting", reason: "" }));
  }

  /** The agent is going away: end every sandbox now. */
  killAll(): void {
    for (const s of this.sandboxes.values()) s.terminate("the agent shut down");
  }

  private start(cmd: StartContainer, spec: SandboxStart): void {
    // The region could not prepare it (a secret of the function it mirrors is gone).
    if (cmd.startError) return this.deps.report({ containerId: cmd.containerId, functionId: cmd.functionId, state: "failed", reason: cmd.startError });
    try {
      this.deps.ledger.claim(cmd.containerId, { cpu: cmd.cpu, memoryMiB: cmd.memoryMib, gpuIndices: cmd.gpuIndices });
    } catch (e) {
      if (!(e instanceof InsufficientCapacityError)) throw e;
      this.deps.report({ containerId: cmd.containerId, functionId: cmd.functionId, state: "failed", reason: e.message });
      return;
    }
    const container = new SandboxContainer(cmd, {
      nc: this.deps.nc,
      startSandbox: (c, s) => this.startSandbox(c, s),
      report: (state, reason) => this.deps.report({ containerId: cmd.containerId, functionId: cmd.functionId, state, reason }),
      log: (stream, line) => {
        const entry: LogLine = { ts: Date.now(), appId: cmd.appId, functionName: cmd.functionName, containerId: cmd.containerId, stream, line };
        // The agent shutting down has closed its connection: the sandbox's last lines have nowhere to go.
        publishQuietly(this.deps.nc, Subjects.logs(cmd.appId), JSON.stringify(entry));
      },
    });
    this.sandboxes.set(cmd.containerId, container);
    void container.run().finally(async () => {
      this.sandboxes.delete(cmd.containerId);
      this.deps.ledger.release(cmd.containerId);
      await rm(this.sandboxDir(cmd.containerId), { recursive: true, force: true }).catch(() => undefined);
    });
  }

  private sandboxDir(containerId: string): string {
    return join(this.deps.stateDir, "sandboxes", containerId);
  }

  private async startSandbox(cmd: StartContainer, spec: SandboxStart): Promise<Sandbox> {
    const execServer = await this.execServer;
    // /workspace: a host directory only this sandbox's user can reach (nobody, when the agent is root).
    const dir = this.sandboxDir(cmd.containerId);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const workspace = join(dir, "workspace");
    await mkdir(workspace, { mode: 0o700 });
    if (process.getuid?.() === 0) await chown(workspace, DEFAULT_UNPRIVILEGED_HOST_ID, DEFAULT_UNPRIVILEGED_HOST_ID);
    const bundle = cmd.bundleHash ? await this.deps.bundles.get(cmd.bundleHash, cmd.bundleUrl) : undefined;
    const snapshotDir = spec.snapshotHash ? await this.snapshots.get(spec.snapshotHash, cmd.bundleUrl) : undefined;
    const granted = cmd.gpuIndices.map((i) => this.deps.gpus.devices[i]);
    const visible = cmd.gpuIndices.join(",");
    // A built image: mounted as a function container's is, never over the paths the sandbox binds itself.
    const image = sandboxImage(cmd);
    const custom = image === undefined ? undefined : await mountImageRoot(this.deps.images, {
      containerId: cmd.containerId, image, nodeBase: this.deps.image, regionUrl: cmd.bundleUrl, fallbackCwd: SANDBOX_WORKDIR,
      reserved: [EXEC_SERVER_DIR_IN_SANDBOX, FUNCTION_APP_DIR, dirname(SNAPSHOT_IN_SANDBOX), SANDBOX_WORKDIR, SANDBOX_NODE_DIR],
    });
    try {
      const sandbox = startSandbox({
        id: cmd.containerId,
        rootfs: custom?.rootfs ?? this.deps.image,
        readOnlyBinds: [
          { hostPath: dirname(execServer), sandboxPath: EXEC_SERVER_DIR_IN_SANDBOX },
          ...(bundle ? [{ hostPath: dirname(bundle), sandboxPath: FUNCTION_APP_DIR }] : []),
          ...(snapshotDir ? [{ hostPath: snapshotDir, sandboxPath: dirname(SNAPSHOT_IN_SANDBOX) }] : []),
        ],
        readWriteBinds: [{ hostPath: workspace, sandboxPath: SANDBOX_WORKDIR }],
        env: {
          FERRY_APP: cmd.appName,
          FERRY_REGION: this.deps.region,
          FERRY_CLOUD: this.deps.cloud,
          FERRY_CONTAINER_ID: cmd.containerId,
          FERRY_SANDBOX_ID: spec.sandboxId,
          FERRY_GPU: granted.length > 0 ? `${granted[0]?.type}:${granted.length}` : "",
          ...(granted.length > 0 ? { CUDA_VISIBLE_DEVICES: visible, NVIDIA_VISIBLE_DEVICES: visible } : {}),
          // A built image's: a full root's PATH, its `env` steps.
          ...custom?.env,
          // The region's: FERRY_FUNCTION for a sandbox mirroring a function, and the user's variables.
          ...cmd.env,
        },
        devices: this.deps.gpus.simulated ? [] : gpuDeviceNodes(cmd.gpuIndices),
        cwd: "/tmp",
        argv: [`${SANDBOX_NODE_DIR}/node`, "--disable-warning=ExperimentalWarning", `${EXEC_SERVER_DIR_IN_SANDBOX}/exec-server.mjs`],
        network: sandboxNetwork(cmd),
        limits: {
          memoryMiB: spec.memoryLimitMib > 0 ? spec.memoryLimitMib : undefined,
          cpu: spec.cpuLimit > 0 ? spec.cpuLimit : undefined,
          pids: SANDBOX_PIDS_LIMIT,
        },
      });
      if (custom) void sandbox.exited.then(() => custom.release());
      return sandbox;
    } catch (e) {
      await custom?.release();
      throw e;
    }
  }

  private exec(cmd: StartExec): void {
    const sandbox = this.sandboxes.get(cmd.containerId);
    if (sandbox) return sandbox.exec(cmd);
    const fn = this.functionSandboxes.get(cmd.containerId);
    const relay = new ExecRelay(this.deps.nc, cmd.targetId, cmd.execId, () => {
      if (fn) fn.execs--;
    });
    if (!fn) return relay.exit({ code: NOT_RUNNABLE_EXIT_CODE, signal: null, reason: `container ${cmd.containerId} is not running on this node` });
    if (fn.execs >= Limits.maxExecsPerSandbox) {
      return relay.exit({ code: NOT_RUNNABLE_EXIT_CODE, signal: null, reason: `container ${cmd.containerId} already runs ${Limits.maxExecsPerSandbox} execs (maxExecsPerSandbox)` });
    }
    fn.execs++;
    const limits = fn.sandbox.limits;
    relay.attach(enterContainer(
      { bwrapPid: fn.sandbox.pid, cgroupDirs: limits?.applied ? limits.cgroup.paths : [], env: fn.env },
      { argv: cmd.argv, env: cmd.env, cwd: cmd.workdir || FUNCTION_APP_DIR, pty: cmd.pty },
      relay,
    ));
  }

  private async snapshot(cmd: TakeSnapshot): Promise<void> {
    const answer = (result: { hash: string; sizeBytes: number } | { error: string }) => this.deps.send({
      body: "snapshotTaken",
      snapshotTaken: { containerId: cmd.containerId, requestId: cmd.requestId, hash: "", sizeBytes: 0, error: "", ...result },
    });
    try {
      const sandbox = this.sandboxes.get(cmd.containerId);
      if (!sandbox) throw new Error(`sandbox container ${cmd.containerId} is not running on this node`);
      const tar = await sandbox.snapshot(cmd.requestId);
      const hash = await this.snapshots.upload(tar, cmd.uploadUrl);
      answer({ hash, sizeBytes: tar.byteLength });
    } catch (e) {
      answer({ error: e instanceof Error ? e.message : String(e) });
    }
  }
}
