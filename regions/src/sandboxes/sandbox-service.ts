import type { NatsConnection } from "@nats-io/transport-node";
import {
  ConflictError, NotFoundError, PayloadTooLargeError, sandboxPlacementOptions, SIGKILL_EXIT_CODE, UnavailableError,
  Limits, type BlockStore, type FunctionOptions, type FunctionRow, type ResolvedSandboxOptions, type SandboxRow, type SandboxStore, type SnapshotRow,
} from "@ferry/core";
import type { RegionCommand, SandboxStart, SnapshotTaken } from "@ferry/core/node";
import type { Fleet, TrackedContainer } from "../agents/fleet.ts";
import type { Broker } from "../broker/broker.ts";
import { ExecStreams, type ExecTarget } from "./exec-stream.ts";
import { runEffect } from "./run-effect.ts";
import { snapshotImage } from "./snapshot-image.ts";

/** Longest a sandbox may take from placement to its exec server ready. */
export const SANDBOX_READY_TIMEOUT_MS = 60_000;
/** Longest `terminate` waits for the agent to confirm the sandbox is gone. */
const TERMINATE_WAIT_MS = 10_000;
/** Longest a snapshot (tar, upload) may take. */
const SNAPSHOT_TIMEOUT_MS = 120_000;

/** What the edge asks for when it creates a sandbox (ownership, app and options resolved). */
export interface CreateSandbox {
  readonly sandboxId: string;
  readonly workspaceId: string;
  readonly appId: string;
  readonly appName: string;
  /** The function it mirrors (`ferry shell`): its name, bundle and raw options; "" / {} otherwise. */
  readonly functionName: string;
  readonly bundleHash: string;
  readonly functionOptions: FunctionOptions;
  readonly snapshotHash: string;
  readonly options: ResolvedSandboxOptions;
}

/** A sandbox this region runs. */
interface LiveSandbox {
  readonly sandboxId: string;
  readonly containerId: string;
  readonly agentId: string;
  readonly workspaceId: string;
  readonly appId: string;
  readonly functionName: string;
  /** Since when no exec runs (null while one does). */
  idleSince: number | null;
}

export interface SandboxServiceDeps {
  readonly region: string;
  readonly fleet: Fleet;
  readonly broker: Broker;
  readonly store: SandboxStore["Service"];
  readonly nc: NatsConnection;
  /** The region's internal base URL (agents fetch and upload snapshots there). */
  readonly regionUrl: () => string;
  /**
   * The region's block store: a snapshot's files become an image there, for functions to start
   * from; a built image a sandbox starts from must be there (or, read through, in a peer region's).
   */
  readonly blocks: () => BlockStore;
}

/**
 * The region's sandboxes (`Sandbox.create`): places each like one container of a function that
 * asks for the sandbox's resources (the broker's auction), with the sandbox's settings added to
 * its start; waits until it runs; relays execs; terminates, snapshots, and records every end
 * (terminate, timeout, idle timeout, OOM, agent lost) in the sandbox's row.
 *
 * @example
 * ```ts
 * const sandboxes = new SandboxService({ region, fleet, broker, store, nc, regionUrl: () => httpUrl });
 * const row = await sandboxes.create(request);
 * ```
 */
export class SandboxService {
  private readonly deps: SandboxServiceDeps;
  private readonly live = new Map<string, LiveSandbox>();
  private readonly byContainer = new Map<string, string>();
  /** Settings of sandboxes being placed, added to their start commands (keyed by sandbox id). */
  private readonly placing = new Map<string, SandboxStart>();
  /** Waiters for a sandbox's container to run or go, keyed by sandbox id. */
  private readonly startWaiters = new Map<string, (outcome: { ok: true } | { ok: false; reason: string }) => void>();
  private readonly goneWaiters = new Map<string, Array<(reason: string) => void>>();
  private readonly snapshotWaiters = new Map<string, (r: SnapshotTaken) => void>();
  readonly execs: ExecStreams;

  constructor(deps: SandboxServiceDeps) {
    this.deps = deps;
    this.execs = new ExecStreams(deps.nc);
    this.execs.onChange = (targetId) => {
      const s = this.live.get(targetId);
      if (s) s.idleSince = this.execs.runningOn(targetId) > 0 ? null : Date.now();
    };
    deps.fleet.commandRewriters.push((command) => this.addSandboxSettings(command));
    deps.fleet.agentMessageListeners.push((_agentId, message) => {
      if (message.body === "snapshotTaken") this.snapshotWaiters.get(message.snapshotTaken.requestId)?.(message.snapshotTaken);
    });
    deps.fleet.containerReadyListeners.push((c) => this.startWaiters.get(c.functionId)?.({ ok: true }));
    deps.fleet.containerGoneListeners.push((c, reason) => this.onGone(c, reason));
  }

  /** Sandboxes the platform state still counts as live in this region but nothing runs (a region restart) are ended. */
  async closeLost(): Promise<void> {
    const rows = await runEffect(this.deps.store.listLiveInRegion(this.deps.region)).catch(() => []);
    for (const r of rows) if (!this.live.has(r.id)) await runEffect(this.deps.store.markTerminated(r.id, "lost: its region restarted", Date.now())).catch(() => undefined);
  }

  /** The live sandbox `id`, or undefined. */
  liveSandbox(id: string): { readonly containerId: string; readonly agentId: string; readonly workspaceId: string; readonly functionName: string; readonly idleSince: number | null } | undefined {
    return this.live.get(id);
  }

  /** The sandbox id of a container, if it is one. */
  sandboxOfContainer(containerId: string): string | undefined {
    return this.byContainer.get(containerId);
  }

  /**
   * Place the sandbox, record it, and resolve once it runs; fails with the reason it cannot
   * (`NotFoundError` for a built image this region's block store does not hold).
   */
  async create(req: CreateSandbox): Promise<SandboxRow> {
    const { options } = req;
    // A built image is published to this region's block store before the sandbox asks for it.
    if (options.image && !(await this.imagePublished(options.image.id))) {
      throw new NotFoundError({ kind: "image", id: options.image.id });
    }
    const fn: FunctionRow = {
      id: req.sandboxId, appId: req.appId, workspaceId: req.workspaceId, name: req.functionName || "sandbox",
      options: req.functionOptions, appName: req.appName, appState: "running", bundleHash: req.bundleHash, removed: false,
    };
    this.placing.set(req.sandboxId, {
      sandboxId: req.sandboxId, timeoutS: options.timeoutS, idleTimeoutS: options.idleTimeoutS, memoryLimitMib: options.memoryMiB,
      cpuLimit: options.cpuLimit, snapshotHash: req.snapshotHash, workdir: options.workdir,
    });
    const started = new Promise<{ ok: true } | { ok: false; reason: string }>((resolve) => this.startWaiters.set(req.sandboxId, resolve));
    let placed: Awaited<ReturnType<Broker["place"]>>;
    try {
      placed = await this.deps.broker.place({ fn, options: sandboxPlacementOptions(options), count: 1 },
        () => ({ FERRY_FUNCTION: req.functionName, ...options.env }));
    } finally {
      this.placing.delete(req.sandboxId);
    }
    const where = placed.started[0];
    if (!where) {
      this.startWaiters.delete(req.sandboxId);
      throw new UnavailableError({ message: `cannot start sandbox: ${placed.unplaced.join("; ") || "no agent is connected"}` });
    }
    this.live.set(req.sandboxId, {
      sandboxId: req.sandboxId, containerId: where.containerId, agentId: where.agentId, workspaceId: req.workspaceId,
      appId: req.appId, functionName: req.functionName, idleSince: Date.now(),
    });
    this.byContainer.set(where.containerId, req.sandboxId);
    const row: SandboxRow = {
      id: req.sandboxId, workspaceId: req.workspaceId, appId: req.appId, appName: req.appName, functionName: req.functionName,
      region: this.deps.region, agentId: where.agentId, containerId: where.containerId, state: "starting", options,
      createdAt: Date.now(), terminatedAt: null, exitReason: null,
    };
    await runEffect(this.deps.store.insert(row));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      started,
      new Promise<{ ok: false; reason: string }>((resolve) => (timer = setTimeout(() => resolve({ ok: false, reason: "it did not start in time" }), SANDBOX_READY_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.startWaiters.delete(req.sandboxId);
    if (!outcome.ok) {
      if (this.live.has(req.sandboxId)) await this.terminate(req.sandboxId, `failed to start: ${outcome.reason}`);
      throw new UnavailableError({ message: `sandbox ${req.sandboxId} failed to start: ${outcome.reason}` });
    }
    await runEffect(this.deps.store.markRunning(req.sandboxId));
    return { ...row, state: "running" };
  }

  /** Kill the sandbox and every process in it; resolves once its agent reports it gone. */
  async terminate(sandboxId: string, reason = "terminated"): Promise<void> {
    const s = this.live.get(sandboxId);
    if (!s) return;
    const gone = new Promise<void>((resolve) => {
      const list = this.goneWaiters.get(sandboxId) ?? [];
      list.push(() => resolve());
      this.goneWaiters.set(sandboxId, list);
    });
    const agent = this.deps.fleet.agents.get(s.agentId);
    if (!agent) return this.markGone(sandboxId, "agent disconnected");
    agent.send({ body: "stop", stop: { containerId: s.containerId, reason } });
    await Promise.race([gone, new Promise((r) => setTimeout(r, TERMINATE_WAIT_MS))]);
  }

  /** Terminate every sandbox of an app (it was stopped). */
  async terminateApp(appId: string): Promise<void> {
    const ids = [...this.live.values()].filter((s) => s.appId === appId).map((s) => s.sandboxId);
    await Promise.all(ids.map((id) => this.terminate(id, "app stopped")));
  }

  /** Where an exec on sandbox `sandboxId` runs. */
  execTarget(sandboxId: string): ExecTarget {
    const s = this.live.get(sandboxId);
    const agent = s && this.deps.fleet.agents.get(s.agentId);
    if (!s || !agent) throw new ConflictError({ message: `sandbox ${sandboxId} is not running` });
    return { containerId: s.containerId, agent, targetId: sandboxId, workspaceId: s.workspaceId };
  }

  /**
   * Tar the sandbox's /tmp and /workspace into a content-addressed snapshot a new sandbox can
   * start from, and index its files as an image in the block store, which functions start from.
   */
  async snapshot(sandboxId: string): Promise<SnapshotRow> {
    const s = this.live.get(sandboxId);
    const agent = s && this.deps.fleet.agents.get(s.agentId);
    if (!s || !agent) throw new ConflictError({ message: `sandbox ${sandboxId} is not running; only a running sandbox can be snapshotted` });
    const requestId = `${sandboxId}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const taken = await new Promise<SnapshotTaken>((resolve) => {
      this.snapshotWaiters.set(requestId, resolve);
      timer = setTimeout(() => resolve({ containerId: s.containerId, requestId, hash: "", sizeBytes: 0, error: "the snapshot took too long" }), SNAPSHOT_TIMEOUT_MS);
      agent.send({ body: "snapshot", snapshot: { containerId: s.containerId, requestId, uploadUrl: this.deps.regionUrl() } });
    }).finally(() => {
      clearTimeout(timer);
      this.snapshotWaiters.delete(requestId);
    });
    if (taken.error) {
      if (taken.error.includes("maxSnapshotBytes")) {
        throw new PayloadTooLargeError({ limit: "maxSnapshotBytes", maxBytes: Limits.maxSnapshotBytes, message: `snapshot of sandbox ${sandboxId} failed: ${taken.error}` });
      }
      throw new UnavailableError({ message: `snapshot of sandbox ${sandboxId} failed: ${taken.error}` });
    }
    const archive = await runEffect(this.deps.store.getSnapshotBlob(taken.hash));
    const imageId = await snapshotImage(archive, this.deps.blocks()).catch((e: unknown) => {
      throw new UnavailableError({ message: `snapshot of sandbox ${sandboxId} could not be made an image: ${e instanceof Error ? e.message : String(e)}` });
    });
    return runEffect(this.deps.store.createSnapshot({ workspaceId: s.workspaceId, sandboxId, hash: taken.hash, sizeBytes: taken.sizeBytes, imageId }));
  }

  /** Whether image `id`'s index is in this region's block store, or can be fetched into it from a peer's. */
  private async imagePublished(id: string): Promise<boolean> {
    const store = this.deps.blocks();
    return (await store.has(id)) || store.get(id).then(() => true, () => false);
  }

  private addSandboxSettings(command: RegionCommand): RegionCommand {
    if (command.body !== "start") return command;
    const sandbox = this.placing.get(command.start.functionId);
    return sandbox ? { body: "start", start: { ...command.start, sandbox } } : command;
  }

  private onGone(c: TrackedContainer, reason: string): void {
    // Failed before it ran (a start that could not get its resources, a snapshot that would not restore).
    this.startWaiters.get(c.functionId)?.({ ok: false, reason: reason || "its container stopped" });
    const sandboxId = this.byContainer.get(c.containerId);
    if (sandboxId) void this.markGone(sandboxId, reason);
    // `ferry container exec` into a function container: its processes went with it.
    else this.execs.endAll(c.containerId, { code: SIGKILL_EXIT_CODE, signal: "SIGKILL", reason: `container stopped (${reason || "stopped"})` });
  }

  private async markGone(sandboxId: string, reason: string): Promise<void> {
    const s = this.live.get(sandboxId);
    if (!s) return;
    this.live.delete(sandboxId);
    this.byContainer.delete(s.containerId);
    this.execs.endAll(sandboxId, { code: SIGKILL_EXIT_CODE, signal: "SIGKILL", reason: `sandbox terminated (${reason})` });
    await runEffect(this.deps.store.markTerminated(sandboxId, reason || "stopped", Date.now())).catch(() => undefined);
    const waiters = this.goneWaiters.get(sandboxId) ?? [];
    this.goneWaiters.delete(sandboxId);
    for (const w of waiters) w(reason);
  }

  /** Throws `NotFoundError` unless `sandboxId` is live here and owned by `workspaceId`. */
  ownLive(sandboxId: string, workspaceId: string): void {
    const s = this.live.get(sandboxId);
    if (!s || s.workspaceId !== workspaceId) throw new NotFoundError({ kind: "sandbox", id: sandboxId });
  }
}
