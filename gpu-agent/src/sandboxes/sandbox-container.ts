import type { NatsConnection } from "@nats-io/transport-node";
import { Limits, NOT_RUNNABLE_EXIT_CODE, SIGKILL_EXIT_CODE, type ExecExit } from "@ferry/core";
import type { SandboxStart, StartContainer, StartExec } from "@ferry/core/node";
import { lineSplitter } from "../runner/runner-protocol.ts";
import type { Sandbox, SandboxExit } from "../sandbox/index.ts";
import { SNAPSHOT_PATHS } from "./exec-protocol.ts";
import { ExecRelay } from "./exec-relay.ts";
import { ExecServerConnection, type ExecSink } from "./exec-server-connection.ts";
import { lifetimeVerdict } from "./sandbox-lifetime.ts";

/** Longest a sandbox may take from start to its exec server ready (its snapshot restored). */
export const SANDBOX_START_TIMEOUT_MS = 30_000;

export interface SandboxContainerDeps {
  readonly nc: NatsConnection;
  /** Start the bubblewrap sandbox that runs the exec server. */
  readonly startSandbox: (command: StartContainer, spec: SandboxStart) => Promise<Sandbox>;
  readonly report: (state: "running" | "stopped" | "failed", reason: string) => void;
  /** The exec server's own output and the sandbox's events (not the execs' output). */
  readonly log: (stream: "stdout" | "stderr" | "system", line: string) => void;
  readonly now?: () => number;
}

/**
 * One sandbox (`Sandbox.create`): a long-lived bubblewrap container running the exec server.
 * It starts the processes the region asks for (`exec`), each with its stdio on NATS; ends itself
 * at its `timeout` or after `idleTimeout` without a running exec; tells an exec killed by the
 * OOM killer (its sandbox over `memory`) from other kills; and reports how it ended.
 *
 * @example
 * ```ts
 * const sb = new SandboxContainer(command, deps);
 * void sb.run();
 * sb.exec(startExec);
 * ```
 */
export class SandboxContainer {
  readonly id: string;
  readonly sandboxId: string;
  state: "starting" | "running" | "stopped" = "starting";
  private readonly command: StartContainer;
  private readonly spec: SandboxStart;
  private readonly deps: SandboxContainerDeps;
  private sandbox: Sandbox | undefined;
  private server: ExecServerConnection | undefined;
  private endReason: string | undefined;
  private readonly relays = new Set<ExecRelay>();
  private startedAt = 0;
  private idleSince = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(command: StartContainer, deps: SandboxContainerDeps) {
    if (!command.sandbox) throw new TypeError(`container ${command.containerId} is not a sandbox`);
    this.command = command;
    this.spec = command.sandbox;
    this.deps = deps;
    this.id = command.containerId;
    this.sandboxId = command.sandbox.sandboxId;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Execs running now. */
  get runningExecs(): number {
    return this.relays.size;
  }

  /** Start the sandbox, wait for its exec server, then live until terminated, timed out or idle. */
  async run(): Promise<void> {
    let exited: Promise<SandboxExit>;
    try {
      const sandbox = await this.deps.startSandbox(this.command, this.spec);
      this.sandbox = sandbox;
      this.server = new ExecServerConnection(sandbox.control);
      sandbox.stdout.on("data", lineSplitter((line) => this.deps.log("stdout", line)));
      sandbox.stderr.on("data", lineSplitter((line) => this.deps.log("stderr", line)));
      exited = sandbox.exited;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          this.server.ready,
          exited.then((e) => Promise.reject(new Error(`the sandbox exited while starting (code ${e.code ?? "none"}${e.error ? `: ${e.error.message}` : ""})`))),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("the sandbox did not start in time")), SANDBOX_START_TIMEOUT_MS))),
        ]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.deps.log("system", `sandbox ${this.sandboxId} failed to start: ${reason}`);
      this.sandbox?.kill("SIGKILL");
      await this.sandbox?.exited;
      this.state = "stopped";
      // Terminated while starting: that is how it ended, not a failure to start.
      if (this.endReason) this.deps.report("stopped", this.endReason);
      else this.deps.report("failed", reason);
      return;
    }
    this.state = "running";
    this.startedAt = this.now();
    this.idleSince = this.startedAt;
    this.deps.report("running", "");
    this.scheduleLifetimeCheck();
    const exit = await exited;
    clearTimeout(this.timer);
    this.state = "stopped";
    const reason = this.endReason ?? this.unplannedEnd(exit);
    this.server.abandonAll({ code: SIGKILL_EXIT_CODE, signal: "SIGKILL", reason: `sandbox terminated (${reason})` });
    this.deps.log("system", `sandbox ${this.sandboxId} ended: ${reason}`);
    this.deps.report("stopped", reason);
  }

  /** End the sandbox now, killing every process in it; `reason` is what it reports. */
  terminate(reason: string): void {
    this.endReason ??= reason;
    this.sandbox?.kill("SIGKILL");
  }

  /** Start a process in the sandbox, its stdio on NATS under the exec's target id. */
  exec(cmd: StartExec): void {
    const relay = new ExecRelay(this.deps.nc, cmd.targetId, cmd.execId, () => {
      this.relays.delete(relay);
      if (this.relays.size === 0) this.idleSince = this.now();
      this.scheduleLifetimeCheck();
    });
    const server = this.server;
    if (this.state !== "running" || !server) {
      return relay.exit({ code: NOT_RUNNABLE_EXIT_CODE, signal: null, reason: `sandbox ${this.sandboxId} is ${this.state === "starting" ? "still starting" : "not running"}` });
    }
    if (this.relays.size >= Limits.maxExecsPerSandbox) {
      return relay.exit({ code: NOT_RUNNABLE_EXIT_CODE, signal: null, reason: `sandbox ${this.sandboxId} already runs ${Limits.maxExecsPerSandbox} execs (maxExecsPerSandbox)` });
    }
    this.relays.add(relay);
    this.scheduleLifetimeCheck();
    const oomBefore = this.oomKills();
    const sink: ExecSink = {
      output: (stream, bytes) => relay.output(stream, bytes),
      exit: (exit) => relay.exit(this.explainExit(exit, oomBefore)),
    };
    relay.attach(server.exec(cmd.execId, { argv: cmd.argv, env: cmd.env, cwd: cmd.workdir || this.spec.workdir, pty: cmd.pty }, sink));
  }

  /** Tar the sandbox's writable directories (rejects above `maxSnapshotBytes`). */
  snapshot(requestId: string): Promise<Buffer> {
    if (this.state !== "running" || !this.server) return Promise.reject(new Error(`sandbox ${this.sandboxId} is not running`));
    return this.server.snapshot(requestId, SNAPSHOT_PATHS, Limits.maxSnapshotBytes);
  }

  /** An exec killed by SIGKILL while the sandbox's OOM count rose was killed for memory. */
  private explainExit(exit: ExecExit, oomBefore: number | undefined): ExecExit {
    const oom = exit.signal === "SIGKILL" && oomBefore !== undefined && (this.oomKills() ?? 0) > oomBefore;
    if (!oom) return exit;
    return { ...exit, oomKilled: true, reason: `out of memory: the sandbox went over its memory limit of ${this.spec.memoryLimitMib} MiB` };
  }

  private oomKills(): number | undefined {
    const limits = this.sandbox?.limits;
    return limits?.applied ? limits.cgroup.oomKills() : undefined;
  }

  private unplannedEnd(exit: SandboxExit): string {
    if (exit.oomKilled) return `out of memory: the sandbox went over its memory limit of ${this.spec.memoryLimitMib} MiB`;
    return `the sandbox's exec server exited (code ${exit.code ?? "none"}${exit.signal ? `, signal ${exit.signal}` : ""})`;
  }

  private scheduleLifetimeCheck(): void {
    clearTimeout(this.timer);
    if (this.state !== "running") return;
    const verdict = lifetimeVerdict({
      startedAt: this.startedAt, timeoutS: this.spec.timeoutS, idleTimeoutS: this.spec.idleTimeoutS,
      runningExecs: this.relays.size, idleSince: this.idleSince,
    }, this.now());
    if ("end" in verdict) return this.terminate(verdict.end);
    this.timer = setTimeout(() => this.scheduleLifetimeCheck(), Math.max(0, verdict.checkAt - this.now()));
  }
}
