import type { JetStreamClient } from "@nats-io/jetstream";
import { Subjects, type InputBatch, type OutputItem, type QueuedInput } from "@ferry/core";

/** Outputs are published in groups: at most this long after the first waiting one. */
const OUTPUT_FLUSH_MS = 5;

/**
 * Collects one call's outputs and publishes them in small groups so maps stream while staying
 * cheap.
 *
 * @example
 * ```ts
 * const outputs = new OutputPublisher(js, callId);
 * outputs.add({ idx: 0, ok: true, value });
 * await outputs.flush();
 * ```
 */
export class OutputPublisher {
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

  /** Drop what is buffered and not yet sent (the call was cancelled). */
  discard(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = [];
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const outputs = this.buffer;
    this.buffer = [];
    this.publishing.push(this.js.publish(Subjects.callEvents(this.callId), JSON.stringify({ type: "outputs", outputs })));
  }

  /** Publish what is buffered; rejects if any publish of this call's outputs failed. */
  async flush(): Promise<void> {
    this.send();
    await Promise.all(this.publishing);
  }
}

/**
 * Put inputs back on their function's queue. Retries travel alone so each waits out its own
 * backoff; untouched inputs travel together.
 */
export const requeueInputs = async (js: JetStreamClient, batch: InputBatch, inputs: ReadonlyArray<QueuedInput>): Promise<void> => {
  const fresh = inputs.filter((i) => i.notBefore === undefined);
  const retries = inputs.filter((i) => i.notBefore !== undefined);
  const messages = [...(fresh.length > 0 ? [fresh] : []), ...retries.map((r) => [r])];
  await Promise.all(messages.map((group) => js.publish(Subjects.input(batch.functionId), JSON.stringify({ ...batch, inputs: group }))));
};
