import { encodeValue } from "@ferry/core/codec";
import { FerryClient } from "../client/ferry-client.ts";
import type { FunctionCall } from "./function-call.ts";
import { mapOverCall, type MapOptions } from "./map-inputs.ts";
import { callRemote, eachAsArgs, spawnCall } from "./single-call.ts";
import type { FunctionOptions } from "./function-options.ts";

/** Brand shared across copies of the SDK (the CLI's and a bundled app's). */
export const FUNCTION_BRAND = Symbol.for("ferry.function");
export { REMOTE_WAIT_MS } from "./single-call.ts";

type Fn<A extends unknown[], R> = (...args: A) => R | Promise<R>;
type BatchFn<X, Y> = (inputs: X[]) => Y[] | Promise<Y[]>;

/** `options.batch`: the function takes a list of inputs and returns one output per input, in order. */
export interface BatchOptions {
  /** Most inputs in one call of the function (1–1000). */
  readonly maxBatchSize: number;
  /** Longest a container waits, from a batch's first input, for more inputs (0–60,000 ms). */
  readonly waitMs: number;
}

/** Options of a batched function: `maxInputs` then counts batches run at once (default 1). */
export type BatchedFunctionOptions = FunctionOptions & { readonly batch: BatchOptions };

/** A batched function returned something other than one output per input. */
export class BatchSizeMismatchError extends Error {
  override name = "BatchSizeMismatchError";
  constructor(functionName: string | undefined, expected: number, got: unknown) {
    const what = Array.isArray(got) ? `an array of ${got.length}` : `a non-array (${got === null ? "null" : typeof got})`;
    super(`batched function ${functionName ?? "(unnamed)"} returned ${what} for a batch of ${expected} inputs: expected an array of length ${expected}, one output per input in order`);
  }
}

/** Where a handle's calls go: resolved on first use unless bound by `ferry run` or `Function.lookup`. */
interface Binding {
  readonly client: FerryClient;
  readonly functionId: string;
}

/**
 * A Ferry function: call it remotely in a container (`remote`, `map`, `spawn`…) or in-process
 * (`local`). Its parameter and return types are those of the wrapped function.
 *
 * @example
 * ```ts
 * const square = app.function({ timeout: 60 }, (x: number) => x * x);
 * await square.remote(4); // 16
 * for await (const y of square.map([1, 2, 3])) console.log(y);
 * ```
 */
export class FerryFunction<A extends unknown[], R> {
  readonly [FUNCTION_BRAND] = true;
  readonly options: FunctionOptions;
  /** The name given by `options.name`, or the export name once the app is deployed or run. */
  name: string | undefined;
  /** The app's name, for looking the function up when no binding was given. */
  readonly appName: string;
  private readonly impl: Fn<A, R>;
  /** Set for a batched function (see `FerryFunction.batched`). */
  private batchImpl: BatchFn<A[0], R> | undefined;
  private binding: Promise<Binding> | undefined;

  constructor(appName: string, options: FunctionOptions, impl: Fn<A, R>) {
    this.appName = appName;
    this.options = options;
    this.name = options.name;
    this.impl = impl;
    // Bound so the runner can call them detached from the handle.
    this.local = this.local.bind(this);
    this.localBatch = this.localBatch.bind(this);
  }

  /**
   * A batched function (`options.batch`): `fn` takes a list of inputs and returns one output per
   * input, in order, while callers pass and get single items; containers gather the batches.
   */
  static batched<X, Y>(appName: string, options: BatchedFunctionOptions, fn: BatchFn<X, Y>): FerryFunction<[X], Y> {
    const handle: FerryFunction<[X], Y> = new FerryFunction<[X], Y>(appName, options, async (x) => (await handle.localBatch([x]))[0]!);
    handle.batchImpl = fn;
    return handle;
  }

  /** Run in this process, as a plain call (a batched function gets a batch of one). */
  async local(...args: A): Promise<R> {
    return await this.impl(...args);
  }

  /**
   * Run a batched function over `inputs` in this process, as a container runs one batch; throws
   * `BatchSizeMismatchError` unless it returns one output per input. An unbatched function runs
   * once per input.
   */
  async localBatch(inputs: ReadonlyArray<A[0]>): Promise<R[]> {
    if (!this.batchImpl) return Promise.all(inputs.map((x) => this.impl(...([x] as A))));
    const outputs: unknown = await this.batchImpl([...inputs]);
    if (!Array.isArray(outputs) || outputs.length !== inputs.length) throw new BatchSizeMismatchError(this.name, inputs.length, outputs);
    return outputs as R[];
  }

  /** Run in a container and return its result; a remote throw rejects with that error. */
  async remote(...args: A): Promise<R> {
    const encoded = encodeValue(args, "args");
    return callRemote<R>(await this.bind(), encoded);
  }

  /** Start the call and return at once; `await call.get()` from here or any other process. */
  async spawn(...args: A): Promise<FunctionCall<R>> {
    const encoded = encodeValue(args, "args");
    return spawnCall<R>(await this.bind(), encoded);
  }

  /** Run over each input (the function's first argument) in parallel containers. */
  map(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options: MapOptions & { returnExceptions: true }): AsyncIterable<R | Error>;
  map(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options?: MapOptions): AsyncIterable<R>;
  map(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options: MapOptions = {}): AsyncIterable<R | Error> {
    return this.starmap(eachAsArgs(inputs) as unknown as AsyncIterable<A>, options);
  }

  /** Like `map`, each input being the whole argument list. */
  starmap(argLists: Iterable<A> | AsyncIterable<A>, options: MapOptions & { returnExceptions: true }): AsyncIterable<R | Error>;
  starmap(argLists: Iterable<A> | AsyncIterable<A>, options?: MapOptions): AsyncIterable<R>;
  starmap(argLists: Iterable<A> | AsyncIterable<A>, options: MapOptions = {}): AsyncIterable<R | Error> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        const { client, functionId } = await self.bind();
        yield* mapOverCall<R>(client, functionId, argLists, options);
      },
    };
  }

  /** Run over each input for its effects; resolves when all are done, rejects on the first error. */
  async forEach(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options: Omit<MapOptions, "orderOutputs"> = {}): Promise<void> {
    for await (const _ of this.map(inputs, { ...options, orderOutputs: false })) {
      // outputs are not needed, only completion
    }
  }

  /** Point the handle at a function id on a platform (`ferry run`, `Function.lookup`). */
  bindTo(client: FerryClient, functionId: string): void {
    this.binding = Promise.resolve({ client, functionId });
  }

  private bind(): Promise<Binding> {
    this.binding ??= (async () => {
      if (!this.name) throw new Error("this function has no name yet: export it from the app's module, or give it options.name");
      const client = await FerryClient.fromEnvironment();
      const found = await client.lookupFunction(this.appName, this.name);
      return { client, functionId: found.id };
    })();
    this.binding.catch(() => (this.binding = undefined));
    return this.binding;
  }
}


