import type { Duplex, Readable } from "node:stream";
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { InputBatch, inputIdOf, Limits, Streams, type QueuedInput, type ResolvedFunctionOptions } from "@ferry/core";
import type { StartContainer } from "@ferry/core/node";
import { Schema } from "effect";
import { lineSplitter } from "../runner/runner-protocol.ts";
import { ClusterLink, clusterInfoOf } from "./cluster-link.ts";
import { crashError, timeoutError } from "./container-errors.ts";
import { InputCollector } from "./input-collector.ts";
import { MessageWork, type InputEnd } from "./message-work.ts";
import { AppLoadError, RunnerConnection, type RunnerResult } from "./runner-connection.ts";
import { ApiBridge } from "./api-bridge.ts";
import { EndpointRelay } from "../runner/endpoint-relay.ts";
import type { FromRunner, ToRunner } from "../runner/runner-protocol.ts";
import type { EndpointRequestHead } from "@ferry/core";
import { serializeError } from "@ferry/core/codec";
import type { VolumeRequest } from "../volumes/container-volumes.ts";

/** Longest a container may take from sandbox start to its function loaded. */
export const LOAD_TIMEOUT_MS = 30_000;
/** How long a stopping container waits for its runner to exit (a class's `exit` has `Limits.classExitTimeoutMs`) before killing it. */
export const SHUTDOWN_GRACE_MS = Limits.classExitTimeoutMs + 2_000;
/** Longest one pull waits for a message, so a stop (eviction, app stopped) takes effect within about a second. */
const IDLE_PULL_MS = 1_000;

const decodeBatch = Schema.decodeUnknownSync(InputBatch);

/** The running sandbox as the container sees it (see `sandbox/`). */
export interface SandboxProcess {
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly control: Duplex;
  /** `error`: the launcher's own failure, if any (see the sandbox module's SandboxExit). */
  readonly exited: Promise<{ code: number | null; signal: string | null; error?: Error }>;
  kill(signal?: NodeJS.Signals): void;
}

export interface ContainerDeps {
  readonly js: JetStreamClient;
  /** Core NATS, for the ranks of a cluster to talk. */
  readonly nc: NatsConnection;
  /** Start the sandbox that runs the runner with the bundle at `bundlePath` in the image. */
  readonly startSandbox: (command: StartContainer, options: ResolvedFunctionOptions) => Promise<{
    sandbox: SandboxProcess;
    bundleInSandbox: string;
    /** Serves the runner's requests about the container's mounted volumes, when it has some. */
    volumes?: { handle(req: VolumeRequest): Promise<unknown> };
  }>;
  readonly isCancelled: (callId: string) => boolean;
  readonly report: (state: "running" | "stopped" | "failed", reason: string) => void;
  readonly log: (stream: "stdout" | "stderr" | "system", line: string, inputId?: string) => void;
}

/** Why the container's inputs could not finish in it. */
class ContainerGone extends Error {
  readonly kind: "timeout" | "crash" | "cancelled";
  /** With `timeout`: the inputs that outran the function's timeout. */
  readonly timedOut: ReadonlySet<string>;
  constructor(kind: "timeout" | "crash" | "cancelled", detail: string, timedOut: ReadonlyArray<string> = []) {
    super(detail);
    this.kind = kind;
    this.timedOut = new Set(timedOut);
  }
}

/** One input held by the container: waiting for a dispatch, or running in one. */
interface HeldInput {
  readonly work: MessageWork;
  readonly input: QueuedInput;
  readonly callId: string;
  readonly inputId: string;
}

/**
 * One container: a sandbox running the runner for one function. It pulls input messages from
 * the function's work queue while it has room, runs up to `maxInputs` inputs at once across
 * messages and calls (for a batched function: up to `maxInputs` batches of up to
 * `batch.maxBatchSize` inputs, each sent once `batch.waitMs` has passed since its first input
 * arrived or once full), publishes each message's outputs and retries failures per the
 * function's policy, and stops itself after `scaledownWindow` without inputs.
 *
 * Timeouts are per input (per batch for a batched function), but an input that outruns its
 * timeout kills the container: the other inputs then in flight end with a `ContainerCrashError`
 * and fail or retry per the retry policy. Cancelling a call drops its waiting inputs; if any of
 * its inputs is running, the container is killed and the other calls' running inputs go back to
 * the queue at the same attempt, so they still complete elsewhere.
 */
export class Container {
  readonly id: string;
  readonly functionId: string;
  state: "starting" | "running" | "stopped" = "starting";
  private sandbox: SandboxProcess | undefined;
  private runner: RunnerConnection | undefined;
  private stopping = false;
  private gone: ContainerGone | undefined;
  private readonly goneWaiters = new Set<(e: ContainerGone) => void>();
  private readonly options: ResolvedFunctionOptions;
  private readonly command: StartContainer;
  private readonly deps: ContainerDeps;
  /** Inputs taken from the queue and not yet settled, waiting or running. */
  private held = 0;
  /** Fast path requests (see `takeSlot`) among `held`, and how many were taken since `takeFastServed`. */
  private fastHeld = 0;
  private fastServed = 0;
  /** Set while the container pulls work: only then may fast path requests take its slots. */
  private accepting = false;
  private endpointRelay: EndpointRelay | undefined;
  private idleSince = Date.now();
  private readonly waiting: InputCollector<HeldInput>;
  private readonly running = new Set<ReadonlyArray<HeldInput>>();
  private readonly unfinishedMessages = new Set<Promise<void>>();
  private readonly cancelledCalls = new Set<string>();
  private dispatchTimer: ReturnType<typeof setTimeout> | undefined;
  private onChange: () => void = () => {};
  /** Set when this container is one rank of a gang-placed cluster. */
  private cluster: ClusterLink | undefined;

  constructor(command: StartContainer, deps: ContainerDeps) {
    this.command = command;
    this.deps = deps;
    this.id = command.containerId;
    this.functionId = command.functionId;
    this.options = JSON.parse(command.optionsJson) as ResolvedFunctionOptions;
    this.waiting = new InputCollector({ maxSize: this.options.batch?.maxBatchSize ?? 1, waitMs: this.options.batch?.waitMs ?? 0 });
  }

  /** Whether any input is in hand (an idle container may be evicted to make room for others). */
  get busy(): boolean {
    return this.held > 0;
  }

  /** Start the sandbox, load the function, then serve inputs until stopped or idle. */
  async run(): Promise<void> {
    try {
      // The region could not prepare it (a secret or volume is gone): fail like an app that cannot load, so callers hear why.
      if (this.command.startError) throw new AppLoadError(serializeError(Object.assign(new Error(this.command.startError), { name: "ContainerStartError" })));
      const { sandbox, bundleInSandbox, volumes } = await this.deps.startSandbox(this.command, this.options);
      this.sandbox = sandbox;
      this.runner = new RunnerConnection(sandbox.control);
      const bridge = new ApiBridge({ apiUrl: this.command.apiUrl ?? "", apiToken: this.command.apiToken ?? "" });
      this.runner.serveApi((req, signal) => bridge.handle(req, signal));
      if (volumes) this.runner.serveVolumes((req) => volumes.handle(req));
      const runner = this.runner;
      this.endpointRelay = new EndpointRelay(this.deps.nc, (m) => runner.sendToRunner(m));
      this.runner.serveEndpoints(this.endpointRelay);
      this.pipeLogs(sandbox);
      // `error`: the launcher's own failure (e.g. its outbound network could not start), said with the exit.
      sandbox.exited.then(({ code, signal, error }) => this.markGone(new ContainerGone("crash", `exit code ${code ?? "none"}${signal ? `, signal ${signal}` : ""}${error ? `: ${error.message}` : ""}`)));
      // A class is constructed and its `enter` run at load: that may take as long as one input may.
      const cls = this.options.cls;
      const loaded = this.runner.load(bundleInSandbox, cls?.name ?? this.command.functionName, cls?.params);
      const loadTimeoutMs = LOAD_TIMEOUT_MS + (cls ? this.options.timeoutS * 1000 : 0);
      await Promise.race([loaded, this.whenGone().gone.then((e) => Promise.reject(e)), delay(loadTimeoutMs).then(() => Promise.reject(new Error(cls ? "class did not load and enter in time" : "function did not load in time")))]);
      await this.joinCluster();
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.deps.log("system", `container failed to start: ${reason}`);
      this.sandbox?.kill("SIGKILL");
      // The app cannot load (it throws at import, say): fail a batch with that error, so callers
      // hear why instead of waiting while the region retries with backoff.
      if (e instanceof AppLoadError) await this.failOneBatch(e.encoded).catch(() => undefined);
      this.cluster?.leave(`failed to start: ${reason}`);
      this.deps.report("failed", reason);
      this.state = "stopped";
      return;
    }
    this.state = "running";
    this.deps.report("running", "");
    if (this.cluster && this.cluster.info.rank > 0) {
      // A follower takes no inputs from the queue: rank 0 sends it each one. It lives as long as its cluster.
      while (!this.stopping && !this.gone) await this.nextChange();
    } else {
      const consumer = await this.deps.js.consumers.get(Streams.functionQueue(this.command.functionId), Streams.workersConsumer);
      this.accepting = true;
      await this.pullWhileRoom(consumer);
      this.accepting = false;
    }
    // What is in hand finishes: a stop lets running inputs complete; a gone container fails or requeues them.
    while (this.held > 0) await this.nextChange();
    await Promise.all(this.unfinishedMessages);
    const reason = this.gone ? `${this.gone.kind}: ${this.gone.message}` : this.stopping ? "stopped" : "scaled down after idle window";
    this.cluster?.leave(reason);
    await this.shutdown();
    this.deps.report("stopped", reason);
  }

  /**
   * Web endpoint fast path: take one of the container's `maxInputs` slots for a request sent
   * straight to it, if one is free and the container is serving (not starting, stopping or
   * gone). Held until `releaseSlot` (when its response head is sent), like an input.
   */
  takeSlot(): boolean {
    if (!this.accepting || this.stopping || this.gone || !this.endpointRelay || this.held >= this.options.maxInputs) return false;
    this.held++;
    this.fastHeld++;
    this.fastServed++;
    return true;
  }

  releaseSlot(): void {
    this.fastHeld--;
    this.held--;
    if (this.held === 0) this.idleSince = Date.now();
    // An input that came from the queue meanwhile may wait for this slot.
    this.dispatchReady();
    this.changed();
  }

  /** The function's timeout: a fast path request's longest time to its response head. */
  get timeoutS(): number {
    return this.options.timeoutS;
  }

  /** Slots in use (inputs and fast path requests), for least-loaded choice. */
  get load(): number {
    return this.held;
  }

  /** Fast path requests held now. */
  get fastInFlight(): number {
    return this.fastHeld;
  }

  /** Fast path requests taken since the last call (for the heartbeat's load report). */
  takeFastServed(): number {
    const n = this.fastServed;
    this.fastServed = 0;
    return n;
  }

  /** Send a fast path request to the runner; its pulls and parts go to `handle` until `detachDirect`. */
  sendDirect(id: string, head: EndpointRequestHead, handle: (m: Extract<FromRunner, { t: "ep_pull" | "ep_res" }>) => void): void {
    this.endpointRelay!.attach(id, handle);
    this.runner!.sendToRunner({ t: "ep_req", id, head });
  }

  detachDirect(id: string): void {
    this.endpointRelay?.detach(id);
  }

  /** Answer (a `ep_body` or `ep_ack`) to the runner about a fast path request. */
  sendToRunner(m: Extract<ToRunner, { t: "ep_body" | "ep_ack" }>): void {
    this.runner?.sendToRunner(m);
  }

  /** Call `onGone` with why, once the container is gone (at once if it is); the returned function stops watching. */
  watchGone(onGone: (why: string) => void): () => void {
    const w = this.whenGone();
    void w.gone.then((g) => onGone(g.kind === "timeout" ? `it was killed because ${g.message}` : g.message));
    return w.release;
  }

  /** A fast path request outran the function's timeout: as for an input, the container is killed. */
  timedOut(requestId: string): void {
    this.markGone(new ContainerGone("timeout", `endpoint request ${requestId} exceeded the function's timeout of ${this.options.timeoutS}s`, [requestId]));
    this.killForInput();
  }

  /** Ask the container to stop once the inputs in hand are done (app stopped, region asked). */
  stop(): void {
    this.stopping = true;
    this.changed();
  }

  /**
   * Kill now: the agent is going away. With `graceMs`, a class container's runner is first asked
   * to shut down, so its `exit` runs (through the agent's API bridge, still up) before the kill.
   */
  async kill(graceMs = 0): Promise<void> {
    this.stop();
    if (graceMs > 0 && this.options.cls && this.runner && this.sandbox && this.state === "running") {
      this.runner.shutdown();
      await Promise.race([this.sandbox.exited, delay(graceMs)]);
    }
    this.sandbox?.kill("SIGKILL");
  }

  /**
   * The sandbox must go (an input timed out, a running call was cancelled): a class container's
   * is left to `shutdown` (its `exit` runs, within its limit, then the kill), others are killed now.
   */
  private killForInput(): void {
    if (!this.options.cls) this.sandbox?.kill("SIGKILL");
  }

  /** The calls with inputs in hand here, waiting or running: for cancellation. */
  runningCalls(): ReadonlyArray<string> {
    const held = [...this.waiting.items(), ...[...this.running].flat()];
    return [...new Set(held.map((h) => h.callId))];
  }

  /**
   * Cancel a call's inputs here: waiting ones are dropped; a running one can only be stopped by
   * killing the sandbox, whose other running inputs then go back to the queue at the same attempt.
   */
  cancelCall(callId: string): void {
    this.cancelledCalls.add(callId);
    for (const h of this.waiting.removeWhere((w) => w.callId === callId)) this.settle(h, { kind: "interrupted" });
    const running = [...this.running].some((group) => group.some((h) => h.callId === callId));
    if (!running) return;
    this.markGone(new ContainerGone("cancelled", `call ${callId} cancelled`));
    this.killForInput();
  }

  /**
   * As one rank of a cluster: rank 0 waits until every other rank is up; the others start serving
   * the inputs rank 0 sends. Every rank ends when any other does.
   */
  private async joinCluster(): Promise<void> {
    const info = clusterInfoOf(this.command.env ?? {});
    if (!info) return;
    const link = new ClusterLink(this.deps.nc, info);
    this.cluster = link;
    link.watchPeers((rank, why) => {
      this.markGone(new ContainerGone("crash", `cluster rank ${rank} ended (${why})`));
      this.sandbox?.kill("SIGKILL");
    });
    if (info.rank > 0) link.serve((inputId, args) => this.runner!.run(inputId, args));
    else await Promise.race([link.waitForRanks(LOAD_TIMEOUT_MS), this.whenGone().gone.then((e) => Promise.reject(e))]);
  }

  /** Pull messages while there is room for more inputs, until stopped, gone or idle too long. */
  private async pullWhileRoom(consumer: Consumer): Promise<void> {
    const room = this.options.maxInputs * (this.options.batch?.maxBatchSize ?? 1);
    this.idleSince = Date.now();
    while (!this.stopping && !this.gone) {
      if (this.held >= room) {
        await this.nextChange();
        continue;
      }
      // Even with scaledownWindow 0 a container waits one pull for work: it was started for some.
      if (this.held === 0 && Date.now() - this.idleSince >= Math.max(IDLE_PULL_MS, this.options.scaledownWindowS * 1000)) return;
      const msg = await nextMessage(consumer, IDLE_PULL_MS);
      // Asked to stop while the pull waited (a redeploy, an eviction): another container takes it.
      if (msg && this.stopping) msg.nak();
      else if (msg) this.admit(msg);
    }
  }

  /** Take a message's inputs in hand, unless it is malformed, cancelled or not due yet. */
  private admit(msg: JsMsg): void {
    let batch: InputBatch;
    try {
      batch = decodeBatch(msg.json());
    } catch (e) {
      this.deps.log("system", `dropped a malformed input message: ${(e as Error).message}`);
      msg.term();
      return;
    }
    if (this.isCancelled(batch.callId)) {
      msg.ack();
      return;
    }
    const now = Date.now();
    const notBefore = Math.max(...batch.inputs.map((i) => i.notBefore ?? 0));
    if (notBefore > now) {
      msg.nak(notBefore - now);
      return;
    }
    const work = new MessageWork(msg, batch, {
      js: this.deps.js, options: this.options, isCancelled: (callId) => this.isCancelled(callId), log: (line) => this.deps.log("system", line),
    });
    this.unfinishedMessages.add(work.done);
    void work.done.then(() => this.unfinishedMessages.delete(work.done));
    this.held += batch.inputs.length;
    for (const input of batch.inputs) this.waiting.add({ work, input, callId: batch.callId, inputId: inputIdOf(batch.callId, input.idx) }, now);
    this.dispatchReady();
  }

  /** Send every ready group while dispatch slots are free; wake again when the next group is due. */
  private dispatchReady(): void {
    clearTimeout(this.dispatchTimer);
    this.dispatchTimer = undefined;
    if (this.gone) {
      for (const h of this.waiting.drain()) this.settle(h, { kind: "interrupted" });
      return;
    }
    // Fast path requests hold slots too (a pull may bring a message while they took the last ones).
    while (this.running.size + this.fastHeld < this.options.maxInputs) {
      const group = this.waiting.take(Date.now());
      if (!group) break;
      void this.dispatch(group);
    }
    const at = this.running.size + this.fastHeld < this.options.maxInputs ? this.waiting.readyAt() : undefined;
    if (at !== undefined) this.dispatchTimer = setTimeout(() => this.dispatchReady(), Math.max(0, at - Date.now()));
  }

  private async dispatch(group: ReadonlyArray<HeldInput>): Promise<void> {
    const live = group.filter((h) => !this.isCancelled(h.callId));
    for (const h of group) if (!live.includes(h)) this.settle(h, { kind: "interrupted" });
    if (live.length === 0) return;
    this.running.add(live);
    const ends = await this.attempt(live).catch((e: unknown) => live.map((h): InputEnd => ({ kind: "crash", error: crashError(h.inputId, `the agent could not run it: ${(e as Error).message}`) })));
    this.running.delete(live);
    live.forEach((h, i) => this.settle(h, ends[i]!));
    this.dispatchReady();
  }

  private settle(h: HeldInput, end: InputEnd): void {
    h.work.settle(h.input, end);
    this.held--;
    if (this.held === 0) this.idleSince = Date.now();
    this.changed();
  }

  /** Run one group (one input, or one batch) in the runner, racing its timeout and the container's end. */
  private async attempt(group: ReadonlyArray<HeldInput>): Promise<InputEnd[]> {
    if (this.gone || !this.runner) return group.map(() => ({ kind: "interrupted" }));
    const ids = group.map((h) => h.inputId);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<InputEnd[]>((resolve) => {
      timer = setTimeout(() => {
        this.markGone(new ContainerGone("timeout", `input ${ids[0]} exceeded the function's timeout of ${this.options.timeoutS}s`, ids));
        this.killForInput();
        resolve(ids.map((id) => ({ kind: "timeout", error: timeoutError(this.options.timeoutS, id) })));
      }, this.options.timeoutS * 1000);
    });
    const goneWatch = this.whenGone();
    const gone = goneWatch.gone.then((g) => group.map((h) => this.endWhenGone(g, h)));
    const results: Promise<RunnerResult[]> = this.options.batch
      ? this.runner.runBatch(ids, group.map((h) => h.input.args))
      : this.cluster
        ? this.runOnEveryRank(this.cluster, ids[0]!, group[0]!.input.args).then((r) => [r])
        : this.runner.run(ids[0]!, group[0]!.input.args).then((r) => [r]);
    const ran = results.then((rs) => rs.map((r): InputEnd => r.ok ? { kind: "ok", value: r.value } : { kind: "error", error: r.error }));
    try {
      return await Promise.race([ran, timedOut, gone]);
    } finally {
      clearTimeout(timer);
      goneWatch.release();
    }
  }

  /** Rank 0 of a cluster: every rank runs the input; rank 0's result is the output, unless another rank failed. */
  private async runOnEveryRank(link: ClusterLink, inputId: string, args: unknown): Promise<RunnerResult> {
    const [own, others] = await Promise.all([this.runner!.run(inputId, args), link.fanOut(inputId, args)]);
    const failed = [...others].sort((a, b) => a.rank - b.rank).find((o) => !o.result.ok);
    return failed ? failed.result : own;
  }

  /** How a running input ends when the container goes away under it. */
  private endWhenGone(g: ContainerGone, h: HeldInput): InputEnd {
    if (g.kind === "cancelled") return { kind: "interrupted" };
    if (g.timedOut.has(h.inputId)) return { kind: "timeout", error: timeoutError(this.options.timeoutS, h.inputId) };
    const detail = g.kind === "timeout" ? `it was killed because ${g.message}` : g.message;
    return { kind: "crash", error: crashError(h.inputId, detail) };
  }

  private isCancelled(callId: string): boolean {
    return this.cancelledCalls.has(callId) || this.deps.isCancelled(callId);
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.dispatchTimer);
    this.state = "stopped";
    if (!this.sandbox) return;
    this.runner?.shutdown();
    await Promise.race([this.sandbox.exited, delay(SHUTDOWN_GRACE_MS)]);
    this.sandbox.kill("SIGKILL");
  }

  /** Resolves on the next settled input, stop or end of the container. */
  private nextChange(): Promise<void> {
    return new Promise((r) => (this.onChange = r));
  }

  private changed(): void {
    const wake = this.onChange;
    this.onChange = () => {};
    wake();
  }

  /** Resolves when the container is gone; `release` drops the waiter (one per input otherwise piles up). */
  private whenGone(): { gone: Promise<ContainerGone>; release: () => void } {
    if (this.gone) return { gone: Promise.resolve(this.gone), release: () => {} };
    let waiter: (e: ContainerGone) => void = () => {};
    const gone = new Promise<ContainerGone>((r) => (waiter = r));
    this.goneWaiters.add(waiter);
    return { gone, release: () => this.goneWaiters.delete(waiter) };
  }

  private markGone(e: ContainerGone): void {
    if (this.gone) return;
    this.gone = e;
    for (const w of this.goneWaiters) w(e);
    this.goneWaiters.clear();
    this.dispatchReady();
    this.changed();
  }

  private pipeLogs(sandbox: SandboxProcess): void {
    const single = () => {
      const inFlight = this.runner?.inFlight() ?? [];
      return inFlight.length === 1 ? inFlight[0] : undefined;
    };
    sandbox.stdout.on("data", lineSplitter((line) => this.deps.log("stdout", line, single())));
    sandbox.stderr.on("data", lineSplitter((line) => this.deps.log("stderr", line, single())));
    const buffers = new Map<string, string>();
    this.runner!.onLog = (inputId, stream, text) => {
      const key = `${inputId}\0${stream}`;
      const lines = ((buffers.get(key) ?? "") + text).split("\n");
      buffers.set(key, lines.pop() ?? "");
      for (const l of lines) this.deps.log(stream, l, inputId);
    };
  }

  private async failOneBatch(loadError: unknown): Promise<void> {
    const consumer = await this.deps.js.consumers.get(Streams.functionQueue(this.command.functionId), Streams.workersConsumer);
    const msg = await nextMessage(consumer, 1_000);
    if (!msg) return;
    const batch = decodeBatch(msg.json());
    const work = new MessageWork(msg, batch, { js: this.deps.js, options: this.options, isCancelled: () => false, log: (line) => this.deps.log("system", line) });
    for (const input of batch.inputs) work.settle(input, { kind: "crash", error: loadError });
    await work.done;
  }
}

const nextMessage = async (consumer: Consumer, expiresMs: number): Promise<JsMsg | null> => {
  try {
    return await consumer.next({ expires: expiresMs });
  } catch {
    await delay(250);
    return null;
  }
};

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
