import type { FerryClient } from "../client/ferry-client.ts";
import { FunctionCall, awaitFirstOutput } from "./function-call.ts";
import { outputError, outputValue } from "./outputs.ts";

/** How long `.remote()` lets the platform hold its request open for the result before polling. */
export const REMOTE_WAIT_MS = 50_000;

/** Where a handle's calls go: a client and a deployed function (or class) id. */
export interface CallTarget {
  readonly client: FerryClient;
  readonly functionId: string;
}

/**
 * One input, waited for: the `.remote()` of functions and class methods. `encoded` is the input
 * already in the value codec. A remote throw rejects with that error.
 */
export const callRemote = async <R>({ client, functionId }: CallTarget, encoded: unknown): Promise<R> => {
  const res = await client.createCall(functionId, [encoded], { close: true, waitMs: REMOTE_WAIT_MS });
  const out = res.outputs?.[0];
  if (out) {
    if (out.ok) return outputValue(out) as R;
    throw outputError(out, res.callId);
  }
  return (await awaitFirstOutput(client, res.callId, undefined)) as R;
};

/** One input, not waited for: the `.spawn()` of functions and class methods. */
export const spawnCall = async <R>({ client, functionId }: CallTarget, encoded: unknown): Promise<FunctionCall<R>> => {
  const res = await client.createCall(functionId, [encoded], { close: true });
  return new FunctionCall<R>(res.callId, client);
};

/** Each input as a one-argument list, for `.map` over `.starmap`. */
export async function* eachAsArgs<T>(inputs: Iterable<T> | AsyncIterable<T>): AsyncGenerator<[T]> {
  for await (const x of inputs as AsyncIterable<T>) yield [x];
}
