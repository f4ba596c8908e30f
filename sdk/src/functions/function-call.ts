import { FerryClient, type WireOutput } from "../client/ferry-client.ts";
import { FunctionCallCancelledError, OutputTimeoutError } from "../errors.ts";
import { outputError, outputValue } from "./outputs.ts";

/** Longest one HTTP wait for outputs; longer waits are several. */
const LONG_POLL_MS = 50_000;

/**
 * Wait for the first output of `callId`, up to `timeoutS` seconds (forever when undefined).
 * Rejects with the remote error, `FunctionCallCancelledError`, or `OutputTimeoutError`.
 */
export const awaitFirstOutput = async (client: FerryClient, callId: string, timeoutS: number | undefined): Promise<unknown> => {
  const deadline = timeoutS === undefined ? Infinity : Date.now() + timeoutS * 1000;
  for (;;) {
    const waitMs = Math.max(0, Math.min(LONG_POLL_MS, deadline - Date.now()));
    const stream = client.streamOutputs(callId, waitMs);
    let output: WireOutput | undefined;
    let next = await stream.next();
    while (!next.done) {
      output ??= next.value[0];
      next = await stream.next();
    }
    if (output) {
      if (output.ok) return outputValue(output);
      throw outputError(output, callId);
    }
    if (next.value.cancelled) throw new FunctionCallCancelledError(`call ${callId} was cancelled`);
    if (Date.now() >= deadline) throw new OutputTimeoutError(`call ${callId} has no output after ${timeoutS}s`);
  }
};

/**
 * A spawned call: wait for its result from this or any other process, or cancel it.
 *
 * @example
 * ```ts
 * const call = await square.spawn(4);
 * const same = FunctionCall.fromId(call.id);
 * console.log(await same.get({ timeout: 30 })); // 16
 * ```
 */
export class FunctionCall<R = unknown> {
  readonly id: string;
  private readonly client: Promise<FerryClient>;

  constructor(id: string, client?: FerryClient) {
    this.id = id;
    this.client = client ? Promise.resolve(client) : FerryClient.fromEnvironment();
  }

  /** A handle on an existing call by its id. */
  static fromId<R = unknown>(id: string): FunctionCall<R> {
    return new FunctionCall<R>(id);
  }

  /** The call's result; `timeout` in seconds (waits forever when left out). */
  async get(options: { timeout?: number } = {}): Promise<R> {
    return (await awaitFirstOutput(await this.client, this.id, options.timeout)) as R;
  }

  /** Cancel the call: queued inputs are dropped and running ones stopped. */
  async cancel(): Promise<void> {
    await (await this.client).cancelCall(this.id);
  }
}
