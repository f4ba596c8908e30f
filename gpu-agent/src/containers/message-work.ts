import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { INPUT_ACK_WAIT_MS, type InputBatch, type QueuedInput, type ResolvedFunctionOptions } from "@ferry/core";
import { decideAttempt, type AttemptEnd } from "./batch-outcome.ts";
import { OutputPublisher, requeueInputs } from "./output-publisher.ts";

/** A held message is kept alive this often, well within its ack wait. */
const PROGRESS_EVERY_MS = INPUT_ACK_WAIT_MS / 3;

/**
 * How one input held by a container ended: an attempt (retry policy applies), or `interrupted`
 * when it never started or was stopped through no fault of its own (its container was killed to
 * cancel another call); an interrupted input goes back to the queue at the same attempt.
 */
export type InputEnd = AttemptEnd | { readonly kind: "interrupted" };

export interface MessageWorkDeps {
  readonly js: JetStreamClient;
  readonly options: Pick<ResolvedFunctionOptions, "retries">;
  /** Whether the call was cancelled: its message is then acked with nothing published. */
  readonly isCancelled: (callId: string) => boolean;
  readonly log: (line: string) => void;
}

/**
 * One queue message in a container's hands. Its inputs run alongside other messages' (other
 * calls'); the message is kept alive with `working()` until every input has settled, then its
 * outputs are published, its retries and interrupted inputs requeued, and it is acked. Should
 * publishing fail (NATS away), the message is nakked and JetStream redelivers it whole.
 *
 * @example
 * ```ts
 * const work = new MessageWork(msg, batch, deps);
 * work.settle(batch.inputs[0], { kind: "ok", value });
 * await work.done;
 * ```
 */
export class MessageWork {
  readonly batch: InputBatch;
  /** Resolves once the message is acked or nakked. */
  readonly done: Promise<void>;
  private unsettled: number;
  private readonly msg: JsMsg;
  private readonly deps: MessageWorkDeps;
  private readonly outputs: OutputPublisher;
  private readonly requeue: QueuedInput[] = [];
  private readonly progress: ReturnType<typeof setInterval>;
  private resolveDone: () => void = () => {};

  constructor(msg: JsMsg, batch: InputBatch, deps: MessageWorkDeps) {
    this.msg = msg;
    this.batch = batch;
    this.deps = deps;
    this.unsettled = batch.inputs.length;
    this.outputs = new OutputPublisher(deps.js, batch.callId);
    this.progress = setInterval(() => msg.working(), PROGRESS_EVERY_MS);
    this.done = new Promise((r) => (this.resolveDone = r));
    if (this.unsettled === 0) void this.finish();
  }

  /** Record how one of this message's inputs ended; the last one finishes the message. */
  settle(input: QueuedInput, end: InputEnd): void {
    if (end.kind === "interrupted") this.requeue.push(input);
    else {
      const decision = decideAttempt(input, end, this.deps.options, Date.now());
      if ("output" in decision) this.outputs.add(decision.output);
      else this.requeue.push(decision.retry);
    }
    this.unsettled--;
    if (this.unsettled === 0) void this.finish();
  }

  private async finish(): Promise<void> {
    clearInterval(this.progress);
    try {
      if (this.deps.isCancelled(this.batch.callId)) {
        this.outputs.discard();
        this.msg.ack();
        return;
      }
      await this.outputs.flush();
      await requeueInputs(this.deps.js, this.batch, this.requeue);
      this.msg.ack();
    } catch (e) {
      this.deps.log(`batch for call ${this.batch.callId} will be redelivered: ${(e as Error).message}`);
      this.msg.nak(1000);
    } finally {
      this.resolveDone();
    }
  }
}
