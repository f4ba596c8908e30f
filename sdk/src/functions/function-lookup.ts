import { FerryClient } from "../client/ferry-client.ts";
import { FerryFunction } from "./function-handle.ts";

/**
 * Deployed functions by name.
 *
 * @example
 * ```ts
 * const square = await Function.lookup<[number], number>("demo", "square");
 * await square.remote(3); // 9
 * ```
 */
export const Function = {
  /** A callable handle on function `name` of deployed app `app`; rejects if it does not exist. */
  async lookup<A extends unknown[] = unknown[], R = unknown>(app: string, name: string, options: { environment?: string } = {}): Promise<FerryFunction<A, R>> {
    const client = await FerryClient.fromEnvironment();
    const found = await client.lookupFunction(app, name, options.environment);
    const handle = new FerryFunction<A, R>(app, { name }, () => {
      throw new Error(`${app}.${name} was looked up: it has no local implementation; use .remote()`);
    });
    handle.bindTo(client, found.id);
    return handle;
  },
};
