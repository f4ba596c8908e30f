import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { CallEvent, Streams, Subjects, type OutputItem } from "@ferry/core";
import { Schema } from "effect";

const decodeEvent = Schema.decodeUnknownSync(CallEvent);

/** The state of a call's outputs, folded from its events. */
export interface CallProgress {
  readonly outputs: Map<number, OutputItem>;
  total: number | undefined;
  cancelled: boolean;
}

export const isFinished = (p: CallProgress): boolean => p.cancelled || (p.total !== undefined && p.outputs.size >= p.total);

/** Fold one event into `progress`; returns the outputs it brought that were not seen before. */
const foldEvent = (progress: CallProgress, event: CallEvent): OutputItem[] => {
  const fresh: OutputItem[] = [];
  if (event.type === "outputs") {
    for (const o of event.outputs) {
      if (progress.outputs.has(o.idx)) continue;
      progress.outputs.set(o.idx, o);
      fresh.push(o);
    }
  } else if (event.type === "closed") progress.total = event.total;
  else progress.cancelled = true;
  return fresh;
};

/**
 * Watch a call that is about to be enqueued, through a plain NATS subscription on its subject
 * (cheaper than a JetStream consumer: the `.remote` fast path). It must be called before the
 * call's inputs and `closed` event are published, so that it sees every event; resolves when the
 * call is finished or `waitMs` passes.
 */
export const watchNewCall = (nc: NatsConnection, callId: string, opts: { waitMs: number; signal?: AbortSignal }) => {
  const progress: CallProgress = { outputs: new Map(), total: undefined, cancelled: false };
  const sub = nc.subscribe(Subjects.callEvents(callId));
  const finished = (async () => {
    const timer = setTimeout(() => sub.unsubscribe(), opts.waitMs);
    const abort = () => sub.unsubscribe();
    opts.signal?.addEventListener("abort", abort, { once: true });
    try {
      for await (const m of sub) {
        foldEvent(progress, decodeEvent(m.json()));
        if (isFinished(progress)) break;
      }
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", abort);
      sub.unsubscribe();
    }
    return progress;
  })();
  return { finished, cancel: () => sub.unsubscribe() };
};

/**
 * Stream a call's events from the beginning: each batch of outputs not seen before (a
 * redelivered input may finish twice; only its first output counts), then stop when every
 * input has its output, the call is cancelled, `waitMs` passes, or `signal` aborts.
 */
export async function* readCallEvents(js: JetStreamClient, callId: string, opts: { waitMs: number; signal?: AbortSignal }): AsyncGenerator<{ readonly fresh: ReadonlyArray<OutputItem>; readonly progress: CallProgress }> {
  const progress: CallProgress = { outputs: new Map(), total: undefined, cancelled: false };
  const consumer = await js.consumers.get(Streams.outputs, { filter_subjects: Subjects.callEvents(callId) });
  const messages = await consumer.consume({ max_messages: 256 });
  const stop = () => messages.stop();
  const timer = setTimeout(stop, opts.waitMs);
  opts.signal?.addEventListener("abort", stop, { once: true });
  try {
    for await (const m of messages) {
      const event = decodeEvent(m.json());
      const fresh = foldEvent(progress, event);
      const done = isFinished(progress);
      if (fresh.length > 0 || done || event.type !== "outputs") yield { fresh, progress };
      if (done) break;
    }
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", stop);
    stop();
  }
}
