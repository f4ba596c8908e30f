import { encodeValue } from "@ferry/core/codec";
import type { FerryClient, WireOutput } from "../client/ferry-client.ts";
import { FunctionCallCancelledError } from "../errors.ts";
import { outputError, outputValue } from "./outputs.ts";

/** Inputs per HTTP request of a `.map` (the edge accepts up to 5,000). */
export const MAP_REQUEST_INPUTS = 1_000;
/** Encoded bytes per HTTP request of a `.map`, well under the edge's 16 MiB body limit. */
export const MAP_REQUEST_BYTES = 4 * 1024 * 1024;
const LONG_POLL_MS = 50_000;

export interface MapOptions {
  /** Yield outputs in input order (default) or as they finish. */
  readonly orderOutputs?: boolean;
  /** Yield a remote error as a value instead of throwing it (default false). */
  readonly returnExceptions?: boolean;
}

/** Encode each argument list; a bad value is refused before anything is sent, with its path. */
async function* encodeArgLists(argLists: Iterable<unknown[]> | AsyncIterable<unknown[]>): AsyncGenerator<{ encoded: unknown; bytes: number }> {
  let i = 0;
  for await (const args of argLists as AsyncIterable<unknown[]>) {
    const encoded = encodeValue(args, `inputs[${i}]`);
    yield { encoded, bytes: JSON.stringify(encoded).length };
    i++;
  }
}

/** Group encoded inputs into request-sized batches. */
async function* requestBatches(argLists: Iterable<unknown[]> | AsyncIterable<unknown[]>): AsyncGenerator<unknown[]> {
  let batch: unknown[] = [];
  let bytes = 0;
  for await (const e of encodeArgLists(argLists)) {
    if (batch.length > 0 && (batch.length >= MAP_REQUEST_INPUTS || bytes + e.bytes > MAP_REQUEST_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(e.encoded);
    bytes += e.bytes;
  }
  yield batch;
}

/**
 * Run a function over many inputs as one call: inputs go up in batches while outputs stream
 * back as they finish; each output is yielded once, in input order unless `orderOutputs` is false.
 */
export async function* mapOverCall<R>(client: FerryClient, functionId: string, argLists: Iterable<unknown[]> | AsyncIterable<unknown[]>, options: MapOptions): AsyncGenerator<R | Error> {
  const ordered = options.orderOutputs ?? true;
  const batches = requestBatches(argLists);
  const first = await batches.next();
  const firstInputs = first.done ? [] : first.value;
  if (firstInputs.length === 0) return;
  // Peek one batch ahead so the call is closed in the same request as its last inputs.
  let ahead = await batches.next();
  const { callId } = await client.createCall(functionId, firstInputs, { close: ahead.done === true });
  let sent = firstInputs.length;
  let total: number | undefined = ahead.done ? sent : undefined;
  let sendError: unknown;
  const controller = new AbortController();
  const sending = (async () => {
    while (!ahead.done) {
      const inputs = ahead.value;
      ahead = await batches.next();
      await client.appendInputs(callId, sent, inputs, ahead.done === true);
      sent += inputs.length;
      if (ahead.done) total = sent;
    }
  })().catch((e: unknown) => {
    sendError = e;
    controller.abort();
  });

  // A redelivered input can finish twice; each index is yielded once.
  const seen = new Set<number>();
  const pending = new Map<number, WireOutput>();
  let nextIdx = 0;
  let completed = false;
  try {
    while (total === undefined || seen.size < total) {
      const stream = client.streamOutputs(callId, LONG_POLL_MS, controller.signal);
      let step = await stream.next();
      while (!step.done) {
        for (const o of step.value) {
          if (seen.has(o.idx)) continue;
          seen.add(o.idx);
          if (!ordered) {
            yield toValue<R>(o, callId, options);
            continue;
          }
          pending.set(o.idx, o);
          for (let r = pending.get(nextIdx); r; r = pending.get(nextIdx)) {
            pending.delete(nextIdx);
            nextIdx++;
            yield toValue<R>(r, callId, options);
          }
        }
        step = await stream.next();
      }
      if (step.value.cancelled) throw new FunctionCallCancelledError(`call ${callId} was cancelled`);
      if (step.value.total !== undefined) total = step.value.total;
    }
    await sending;
    completed = true;
  } catch (e) {
    throw sendError ?? e;
  } finally {
    if (!completed) {
      controller.abort();
      // The caller stopped reading or an error ended the map: stop the rest of the work.
      await client.cancelCall(callId).catch(() => undefined);
    }
  }
}

const toValue = <R>(o: WireOutput, callId: string, options: MapOptions): R | Error => {
  if (o.ok) return outputValue(o) as R;
  const error = outputError(o, callId);
  if (options.returnExceptions) return error;
  throw error;
};
