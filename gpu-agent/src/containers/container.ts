import type { Duplex, Readable } from "node:stream";
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { InputBatch, inputIdOf, INPUT_ACK_WAIT_MS, Streams, Subjects, type OutputItem, type QueuedInput, type ResolvedFunctionOptions } from "@ferry/core";
import type { StartContainer } from "@ferry/core/node";
import { Schema } from "effect";
import { lineSplitter } from "../runner/runner-protocol.ts";
import { decideAttempt, type AttemptEnd } from "./batch-outcome.ts";
import { crashError, timeoutError } from "./container-errors.ts";
import { AppLoadError, RunnerConnection } from "./runner-connection.ts";

/** Longest a container may take from sandbox start to its function loaded. */
export const LOAD_TIMEOUT_MS = 30_000;
/** Outputs are published in groups: at most this long after the first waiting one. */
const OUTPUT_FLUSH_MS = 5;
const PROGRESS_EVERY_MS = INPUT_ACK_WAIT_MS / 3;
const IDLE_PULL_MS = 1_000;

const decodeBatch = Schema.decodeUnknownSync(InputBatch);

/** The running sandbox as the container sees it (see `sandbox/`). */
export interface SandboxProcess {
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly control: Duplex;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export interface ContainerDeps {
  readonly js: JetStreamClient;
  /** Start the sandbox that runs the runner with the bundle at `bundlePath` in the image. */
  readonly startSandbox: (command: StartContainer, options: ResolvedFunctionOptions) => Promise<{ sandbox: SandboxProcess; bundleInSandbox: string }>;
  readonly isCancelled: (callId: string) => boolean;
  readonly report: (state: "running" | "stopped" | "failed", reason: string) => void;
  readonly log: (stream: "stdout" | "stderr" | "system", line: string, inputId?: string) => void;
}

/** Why a batch could not finish in this container. */
class ContainerGone extends Error {
  readonly kind: "timeout" | "crash" | "cancelled" | "stopped";
  constructor(kind: "timeout" | "crash" | "cancelled" | "stopped", detail: string) {
    super(detail);
    this.kind = kind;
  }
}

/**
 * One container: a sandbox running the runner for one function. It takes input batches from the
 * function's work queue one at a time, runs their inputs (up to `maxInputs` at once), publishes
 * outputs, retries failures per the function's policy, and stops itself after `scaledownWindow`
 * without work.
 */
export class Container {
  readonly id: string;
  readonly functionId: string;
  state: "starting" | "running" | "stopped" = "starting";
  /** Working on a batch (an idle container may be evicted to make room for others). */
  busy = false;
  private sandbox: SandboxProcess | undefined;
  private runner: RunnerConnection | undefined;
  private stopping = false;
  private gone: ContainerGone | undefined;
  private readonly goneWaiters = new Set<(e: ContainerGone) => void>();
  private readonly options: ResolvedFunctionOptions;
  private readonly command: StartContainer;
  private readonly deps: ContainerDeps;
  private currentCallId: string | undefined;

  constructor(command: StartContainer, deps: ContainerDeps) {
    this.command = command;
    this.deps = deps;
    this.id = command.containerId;
    this.functionId = command.functionId;
    this.options = JSON.parse(command.optionsJson) as ResolvedFunctionOptions;
  }

  /** Start the sandbox, load the function, then serve inputs until stopped or idle. */
  async run(): Promise<void> {
    try {
      const { sandbox, bundleInSandbox } = await this.deps.startSandbox(this.command, this.options);
      this.sandbox = sandbox;
      this.runner = new RunnerConnection(sandbox.control);
      this.pipeLogs(sandbox);
      sandbox.exited.then(({ code, signal }) => this.markGone(new ContainerGone("crash", `exit code ${code ?? "none"}${signal ? `, signal ${signal}` : ""}`)));
      const loaded = this.runner.load(bundleInSandbox, this.command.functionName);
      await Promise.race([loaded, this.whenGone().gone.then((e) => Promise.reject(e)), delay(LOAD_TIMEOUT_MS).then(() => Promise.reject(new Error("function did not load in time")))]);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.deps.log("system", `container failed to start: ${reason}`);
      this.sandbox?.kill("SIGKILL");
      // The app cannot load (it throws at import, say): fail a batch with that error, so callers
      // hear why instead of waiting while the region retries with backoff.
      if (e instanceof AppLoadError) await this.failOneBatch(e.encoded).catch(() => undefined);
      this.deps.report("failed", reason);
      this.state = "stopped";
      return;
    }
    this.state = "running";
    this.deps.report("running", "");
    const consumer = await this.deps.js.consumers.get(Streams.functionQueue(this.command.functionId), Streams.workersConsumer);
    let idleSince = Date.now();
    let reason = "scaled down after idle window";
    while (!this.stopping && !this.gone) {
      const idleLeft = this.options.scaledownWindowS * 1000 - (Date.now() - idleSince);
      if (idleLeft <= 0) break;
      // Short pulls, so a stop (eviction, app stopped) takes effect within about a second.
      const msg = await nextMessage(consumer, Math.min(Math.max(idleLeft, 1000), IDLE_PULL_MS));
      if (!msg) continue;
      this.busy = true;
      await this.processBatch(msg);
      this.busy = false;
      idleSince = Date.now();
    }
    if (this.gone) reason = `${this.gone.kind}: ${this.gone.message}`;
    else if (this.stopping) reason = "stopped";
    await this.shutdown();
    this.deps.report("stopped", reason);
  }

  /** Ask the container to stop after its current batch (app stopped, region asked). */
  stop(): void {
    this.stopping = true;
  }

  /** Kill now: the agent is going away. */
  kill(): void {
    this.stopping = true;
    this.sandbox?.kill("SIGKILL");
  }

  /** The call whose inputs are running here, if any: for cancellation. */
  runningCall(): string | undefined {
    return this.currentCallId;
  }

  cancelRunning(): void {
    this.markGone(new ContainerGone("cancelled", "call cancelled"));
    this.sandbox?.kill("SIGKILL");
  }

  private async shutdown(): Promise<void> {
    this.state = "stopped";
    if (!this.sandbox) return;
    this.runner?.shutdown();
    await Promise.race([this.sandbox.exited, delay(2_000)]);
    this.sandbox.kill("SIGKILL");
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
    const outputs = new OutputPublisher(this.deps.js, batch.callId);
    const requeue: QueuedInput[] = [];
    for (const input of batch.inputs) {
      const decision = decideAttempt(input, { kind: "crash", error: loadError }, this.options, Date.now());
      if ("output" in decision) outputs.add(decision.output);
      else requeue.push(decision.retry);
    }
    await outputs.flush();
    await requeueInputs(this.deps.js, batch, requeue);
    msg.ack();
  }

  private async processBatch(msg: JsMsg): Promise<void> {
    let batch: InputBatch;
    try {
      batch = decodeBatch(msg.json());
    } catch (e) {
      this.deps.log("system", `dropped a malformed input message: ${(e as Error).message}`);
      msg.term();
      return;
    }
    if (this.deps.isCancelled(batch.callId)) {
      msg.ack();
      return;
    }
    const now = Date.now();
    const notBefore = Math.max(...batch.inputs.map((i) => i.notBefore ?? 0));
    if (notBefore > now) {
      msg.nak(notBefore - now);
      return;
    }
    this.currentCallId = batch.callId;
    const progress = setInterval(() => msg.working(), PROGRESS_EVERY_MS);
    const outputs = new OutputPublisher(this.deps.js, batch.callId);
    const requeue: QueuedInput[] = [];
    try {
      const queue = [...batch.inputs];
      const worker = async () => {
        for (let input = queue.shift(); input; input = queue.shift()) {
          if (this.gone) {
            requeue.push(input);
            continue;
          }
          const end = await this.attempt(batch.callId, input);
          if (end === undefined) {
            requeue.push(input);
            continue;
          }
          const decision = decideAttempt(input, end, this.options, Date.now());
          if ("output" in decision) outputs.add(decision.output);
          else requeue.push(decision.retry);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.options.maxInputs, batch.inputs.length) }, worker));
      if (this.gone?.kind === "cancelled") {
        msg.ack();
        return;
      }
      await outputs.flush();
      await requeueInputs(this.deps.js, batch, requeue);
      msg.ack();
    } catch (e) {
      // Publishing failed (NATS away): let JetStream redeliver the whole batch.
      this.deps.log("system", `batch for call ${batch.callId} will be redelivered: ${(e as Error).message}`);
      msg.nak(1000);
    } finally {
      clearInterval(progress);
      this.currentCallId = undefined;
    }
  }

  /** Run one input; `undefined` when it never started because the container is gone. */
  private async attempt(callId: string, input: QueuedInput): Promise<AttemptEnd | undefined> {
    const inputId = inputIdOf(callId, input.idx);
    if (this.gone || !this.runner) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<AttemptEnd>((resolve) => {
      timer = setTimeout(() => {
        this.markGone(new ContainerGone("timeout", `input ${inputId} timed out`));
        this.sandbox?.kill("SIGKILL");
        resolve({ kind: "timeout", error: timeoutError(this.options.timeoutS, inputId) });
      }, this.options.timeoutS * 1000);
    });
    const goneWatch = this.whenGone();
    const gone = goneWatch.gone.then((g): AttemptEnd => g.kind === "timeout"
      ? { kind: "timeout", error: timeoutError(this.options.timeoutS, inputId) }
      : { kind: "crash", error: crashError(inputId, g.message) });
    const ran = this.runner.run(inputId, input.args).then((r): AttemptEnd => r.ok ? { kind: "ok", value: r.value } : { kind: "error", error: r.error });
    try {
      return await Promise.race([ran, timedOut, gone]);
    } finally {
      clearTimeout(timer);
      goneWatch.release();
    }
  }
}

/** Collects outputs and publishes them in small groups so maps stream while staying cheap. */
class OutputPublisher {
  private buffer: OutputItem[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private publishing: Promise<unknown>[] = [];
  private readonly js: JetStreamClient;
  private readonly callId: string;

  constructor(js: JetStreamClient, callId: string) {
    this.js = js;
    this.callId = callId;
  }

  add(o: OutputItem): void {
    this.buffer.push(o);
    this.timer ??= setTimeout(() => this.send(), OUTPUT_FLUSH_MS);
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const outputs = this.buffer;
    this.buffer = [];
    this.publishing.push(this.js.publish(Subjects.callEvents(this.callId), JSON.stringify({ type: "outputs", outputs })));
  }

  async flush(): Promise<void> {
    this.send();
    await Promise.all(this.publishing);
  }
}

const requeueInputs = async (js: JetStreamClient, batch: InputBatch, inputs: ReadonlyArray<QueuedInput>) => {
  // Retries travel alone so each waits out its own backoff; untouched inputs travel together.
  const fresh = inputs.filter((i) => i.notBefore === undefined);
  const retries = inputs.filter((i) => i.notBefore !== undefined);
  const messages = [...(fresh.length > 0 ? [fresh] : []), ...retries.map((r) => [r])];
  await Promise.all(messages.map((group) => js.publish(Subjects.input(batch.functionId), JSON.stringify({ ...batch, inputs: group }))));
};

const nextMessage = async (consumer: Consumer, expiresMs: number): Promise<JsMsg | null> => {
  try {
    return await consumer.next({ expires: expiresMs });
  } catch {
    await delay(250);
    return null;
  }
};

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
