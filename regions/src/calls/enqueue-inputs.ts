import type { JetStreamClient } from "@nats-io/jetstream";
import { Limits, Subjects, type InputBatch, type QueuedInput } from "@ferry/core";

/** Spread a request's inputs over about this many messages, so many containers can share a map. */
const TARGET_MESSAGES_PER_REQUEST = 16;

/**
 * Split `count` inputs into queue batches: small requests go one input per message (lowest
 * latency, widest fan-out); large ones in batches of up to `Limits.maxInputsPerMessage`.
 */
export const batchSizeFor = (count: number): number =>
  Math.max(1, Math.min(Limits.maxInputsPerMessage, Math.ceil(count / TARGET_MESSAGES_PER_REQUEST)));

/**
 * Group encoded arguments into `InputBatch` messages, also cutting a batch before it would
 * exceed half of `Limits.maxMessageBytes`.
 */
export const planInputBatches = (head: Omit<InputBatch, "inputs">, startIdx: number, args: ReadonlyArray<{ readonly json: string; readonly value: unknown }>): InputBatch[] => {
  const size = batchSizeFor(args.length);
  const batches: InputBatch[] = [];
  let current: QueuedInput[] = [];
  let bytes = 0;
  args.forEach((a, i) => {
    if (current.length >= size || (current.length > 0 && bytes + a.json.length > Limits.maxMessageBytes / 2)) {
      batches.push({ ...head, inputs: current });
      current = [];
      bytes = 0;
    }
    current.push({ idx: startIdx + i, args: a.value, attempt: 0 });
    bytes += a.json.length;
  });
  if (current.length > 0) batches.push({ ...head, inputs: current });
  return batches;
};

/** Publish input batches to the function's work queue; resolves once JetStream stored them all. */
export const publishInputBatches = async (js: JetStreamClient, functionId: string, batches: ReadonlyArray<InputBatch>): Promise<void> => {
  const subject = Subjects.input(functionId);
  await Promise.all(batches.map((b) => js.publish(subject, JSON.stringify(b))));
};
