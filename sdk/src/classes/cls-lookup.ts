import { FerryClient } from "../client/ferry-client.ts";
import { FerryCls, type ClsHandle } from "./cls.ts";

/**
 * Deployed classes by name.
 *
 * @example
 * ```ts
 * const Model = await Cls.lookup<ModelClass>("demo", "Model");
 * await Model.predict.remote("hi");
 * await Model.with({ size: "small" }).predict.remote("hi");
 * ```
 */
export const Cls = {
  /** A handle on class `name` of deployed app `app`, with the methods it was deployed with; rejects if there is none. */
  async lookup<T extends object = Record<string, (...args: never[]) => unknown>>(app: string, name: string, options: { environment?: string } = {}): Promise<ClsHandle<T>> {
    const client = await FerryClient.fromEnvironment();
    const found = await client.lookupFunction(app, name, options.environment) as { id: string; options?: { methods?: ReadonlyArray<string> } };
    const methods = found.options?.methods;
    if (!methods) throw new TypeError(`${app}.${name} is a function, not a class: use Function.lookup`);
    const handle = new FerryCls<T>(app, { name }, { methods });
    handle.bindTo(client, found.id);
    return handle as ClsHandle<T>;
  },
};
