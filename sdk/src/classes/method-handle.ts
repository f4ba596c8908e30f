import { encodeValue } from "@ferry/core/codec";
import type { FerryClient } from "../client/ferry-client.ts";
import type { FunctionCall } from "../functions/function-call.ts";
import { mapOverCall, type MapOptions } from "../functions/map-inputs.ts";
import { callRemote, eachAsArgs, spawnCall } from "../functions/single-call.ts";

/** Where a class instance's calls go, and how it runs in this process. */
export interface MethodOwner {
  /** The class's (or parametrised instance's) function on the platform, resolved on first use. */
  resolve(): Promise<{ readonly client: FerryClient; readonly functionId: string }>;
  /** Run a method in this process on a local instance (constructed and entered once). */
  localCall(method: string, args: unknown[]): Promise<unknown>;
}

/**
 * One method of a class (`Model.predict`), called like a function: in the class's containers
 * (`remote`, `map`, `spawn`…), where the instance was constructed and entered once, or in this
 * process (`local`). Each input travels as `[method, ...args]` to the class's one deployable unit.
 *
 * @example
 * ```ts
 * await Model.predict.remote("hello");
 * for await (const y of Model.with({ size: "small" }).predict.map(["a", "b"])) console.log(y);
 * ```
 */
export class FerryMethod<A extends unknown[], R> {
  readonly name: string;
  private readonly owner: MethodOwner;

  constructor(owner: MethodOwner, name: string) {
    this.owner = owner;
    this.name = name;
  }

  /** Run in a container of the class and return the result; a remote throw rejects with that error. */
  async remote(...args: A): Promise<R> {
    const encoded = this.encode(args);
    return callRemote<R>(await this.owner.resolve(), encoded);
  }

  /** Start the call and return at once; `await call.get()` from here or any other process. */
  async spawn(...args: A): Promise<FunctionCall<R>> {
    const encoded = this.encode(args);
    return spawnCall<R>(await this.owner.resolve(), encoded);
  }

  /** Run over each input (the method's first argument) in parallel containers. */
  map(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options: MapOptions & { returnExceptions: true }): AsyncIterable<R | Error>;
  map(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options?: MapOptions): AsyncIterable<R>;
  map(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options: MapOptions = {}): AsyncIterable<R | Error> {
    return this.starmap(eachAsArgs(inputs) as AsyncIterable<A>, options);
  }

  /** Like `map`, each input being the whole argument list. */
  starmap(argLists: Iterable<A> | AsyncIterable<A>, options: MapOptions & { returnExceptions: true }): AsyncIterable<R | Error>;
  starmap(argLists: Iterable<A> | AsyncIterable<A>, options?: MapOptions): AsyncIterable<R>;
  starmap(argLists: Iterable<A> | AsyncIterable<A>, options: MapOptions = {}): AsyncIterable<R | Error> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        const { client, functionId } = await self.owner.resolve();
        yield* mapOverCall<R>(client, functionId, withMethod(self.name, argLists), options);
      },
    };
  }

  /** Run over each input for its effects; resolves when all are done, rejects on the first error. */
  async forEach(inputs: Iterable<A[0]> | AsyncIterable<A[0]>, options: Omit<MapOptions, "orderOutputs"> = {}): Promise<void> {
    for await (const _ of this.map(inputs, { ...options, orderOutputs: false })) {
      // outputs are not needed, only completion
    }
  }

  /** Run in this process on a local instance of the class (its `enter` runs once, first). */
  async local(...args: A): Promise<R> {
    return (await this.owner.localCall(this.name, args)) as R;
  }

  /** `[method, ...args]` encoded; a bad argument is refused with its own path (`args[0].user`). */
  private encode(args: A): unknown {
    return [this.name, ...(encodeValue(args, "args") as unknown[])];
  }
}


async function* withMethod(method: string, argLists: Iterable<unknown[]> | AsyncIterable<unknown[]>): AsyncGenerator<unknown[]> {
  for await (const args of argLists as AsyncIterable<unknown[]>) yield [method, ...args];
}
