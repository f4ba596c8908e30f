import { encodeValue } from "@ferry/core/codec";
import { FerryClient } from "../client/ferry-client.ts";
import type { FunctionOptions } from "../functions/function-options.ts";
import { classMethods, type ClassParams, type MethodNames } from "./class-members.ts";
import { FerryMethod, type MethodOwner } from "./method-handle.ts";
import { UnknownMethodError } from "./unknown-method-error.ts";

/** Brand shared across copies of the SDK (the CLI's and a bundled app's); the runner finds classes by it. */
export const CLS_BRAND = Symbol.for("ferry.cls");
/** Where a class handle keeps its state, so no field of its own can clash with a method name. */
const STATE = Symbol("ferry.cls.state");

/** Options of `app.cls(options, class)`: a function's, but a class runs no schedule and takes no batches. */
export type ClassOptions = Omit<FunctionOptions, "schedule">;

/** A user class: constructed with no arguments; `enter` and `exit` are its lifecycle hooks. */
export type UserClass<T extends object = object> = new () => T;

/** A constructed instance, as containers (and `.local`) use it: methods by name, then `exit`. */
export interface ClassInstance {
  call(method: string, args: unknown[]): Promise<unknown>;
  exit(): Promise<void>;
}

interface Binding { readonly client: FerryClient; readonly functionId: string }

interface ClsState {
  readonly appName: string;
  readonly userClass: UserClass | undefined;
  readonly methods: ReadonlyArray<string>;
  /** Set on an instance from `with()`: the class it came from and its parameters (validated, encoded). */
  readonly root: FerryCls | undefined;
  readonly params: Readonly<Record<string, unknown>> | undefined;
  readonly encodedParams: unknown;
  binding: Promise<Binding> | undefined;
  local: Promise<ClassInstance> | undefined;
}

/** A class handle: `FerryCls` with one `FerryMethod` per method of the class. */
export type ClsHandle<T extends object> = FerryCls<T> & {
  readonly [K in MethodNames<T>]: T[K] extends (...args: infer A) => infer R ? FerryMethod<A, Awaited<R>> : never;
};

/** Names a method may not have: the handle's own members. */
const RESERVED = new Set(["name", "options", "methods", "appName", "with", "method", "bindTo", "instantiate", "then"]);

/**
 * A Ferry class (`app.cls`): one deployable unit whose methods share containers. Each container
 * constructs the class once, runs its `enter` before its first input and its `exit` when it
 * shuts down; methods share the instance's state. `Model.predict.remote(x)` runs a method;
 * `Model.with({ size: "small" })` is a parametrised instance with containers of its own, whose
 * instances get those fields set before `enter`.
 *
 * @example
 * ```ts
 * export const Model = app.cls({ gpu: "H100" }, class {
 *   size = "base";
 *   weights = "";
 *   async enter() { this.weights = await load(this.size); }
 *   async predict(x: string) { return run(this.weights, x); }
 * });
 * await Model.predict.remote("hi");
 * await Model.with({ size: "small" }).predict.remote("hi");
 * ```
 */
export class FerryCls<T extends object = object> {
  readonly [CLS_BRAND] = true;
  readonly options: ClassOptions;
  /** The class's name: its export name once the app is deployed or run, or `options.name`. */
  name: string | undefined;
  private readonly [STATE]: ClsState;

  constructor(appName: string, options: ClassOptions, spec: { readonly userClass?: UserClass<T>; readonly methods?: ReadonlyArray<string> }, instanceOf?: { root: FerryCls; params: Record<string, unknown> }) {
    this.options = options;
    this.name = options.name;
    const methods = spec.methods ?? (spec.userClass ? classMethods(spec.userClass) : []);
    const reserved = methods.find((m) => RESERVED.has(m));
    if (reserved) throw new TypeError(`class method ${reserved} has the name of a class handle member (${[...RESERVED].join(", ")}): rename it`);
    if (methods.length === 0) throw new TypeError("a Ferry class needs at least one method besides enter and exit");
    this[STATE] = {
      appName, userClass: spec.userClass, methods, root: instanceOf?.root, params: instanceOf?.params,
      encodedParams: instanceOf ? encodeValue(instanceOf.params, "params") : undefined, binding: undefined, local: undefined,
    };
    const owner: MethodOwner = { resolve: () => this.resolve(), localCall: (method, args) => this.localCall(method, args) };
    for (const m of methods) Object.defineProperty(this, m, { value: new FerryMethod(owner, m), enumerable: true });
  }

  /** The class's methods, in definition order. */
  get methods(): ReadonlyArray<string> {
    return this[STATE].methods;
  }

  /** The app's name, for looking the class up when no binding was given. */
  get appName(): string {
    return this[STATE].appName;
  }

  /**
   * A parametrised instance: its containers are its own (one set per distinct parameter set) and
   * construct the class with these fields set before `enter`. Parameters must be structured
   * values; anything else is refused here, naming its path (`params.callback`).
   */
  with(params: ClassParams<T>): ClsHandle<T> {
    if (params === null || typeof params !== "object" || Array.isArray(params)) throw new TypeError("with(params) takes a plain object of parameters, like { size: \"small\" }");
    const s = this[STATE];
    const root = s.root ?? (this as FerryCls);
    const merged = { ...s.params, ...(params as Record<string, unknown>) };
    const instance = new FerryCls<T>(s.appName, this.options, { userClass: s.userClass as UserClass<T> | undefined, methods: s.methods }, { root, params: merged });
    instance.name = root.name;
    return instance as ClsHandle<T>;
  }

  /** A method by name (one chosen at run time, say); an unknown name throws `UnknownMethodError`. */
  method<A extends unknown[] = unknown[], R = unknown>(name: string): FerryMethod<A, R> {
    if (!this[STATE].methods.includes(name)) throw new UnknownMethodError(this.name, name, this[STATE].methods);
    return (this as unknown as Record<string, FerryMethod<A, R>>)[name]!;
  }

  /** Point the class at its function id on a platform (`ferry run`, `ferry deploy`, `Cls.lookup`). */
  bindTo(client: FerryClient, functionId: string): void {
    this[STATE].binding = Promise.resolve({ client, functionId });
  }

  /**
   * Construct the class, set `params` as fields, and run `enter`: what each container does once
   * (and `.local` in this process). The instance runs methods by name and `exit` at the end.
   */
  async instantiate(params?: Readonly<Record<string, unknown>>): Promise<ClassInstance> {
    const userClass = this[STATE].userClass;
    if (!userClass) throw new Error(`class ${this.name} was looked up: it has no local implementation; use .remote()`);
    const instance = new userClass() as Record<string, unknown>;
    if (params) Object.assign(instance, params);
    if (typeof instance.enter === "function") await (instance.enter as () => unknown).call(instance);
    const methods = this[STATE].methods;
    return {
      call: async (method, args) => {
        const fn = instance[method];
        if (!methods.includes(method) || typeof fn !== "function") throw new UnknownMethodError(this.name, method, methods);
        return await (fn as (...a: unknown[]) => unknown).apply(instance, args);
      },
      exit: async () => {
        if (typeof instance.exit === "function") await (instance.exit as () => unknown).call(instance);
      },
    };
  }

  private localCall(method: string, args: unknown[]): Promise<unknown> {
    const s = this[STATE];
    const local = (s.local ??= this.instantiate(s.params));
    local.catch(() => (s.local = undefined));
    return local.then((i) => i.call(method, args));
  }

  /** The function this class (or instance) runs as: looked up by name, or created for a parameter set. */
  private resolve(): Promise<Binding> {
    const s = this[STATE];
    s.binding ??= (async () => {
      if (s.root) {
        const { client, functionId } = await s.root.resolve();
        const row = await client.request<{ id: string }>("POST", `/v1/classes/${encodeURIComponent(functionId)}/instances`, { params: s.encodedParams });
        return { client, functionId: row.id };
      }
      if (!this.name) throw new Error("this class has no name yet: export it from the app's module, or give it options.name");
      const client = await FerryClient.fromEnvironment();
      const found = await client.lookupFunction(s.appName, this.name);
      return { client, functionId: found.id };
    })();
    s.binding.catch(() => (s.binding = undefined));
    return s.binding;
  }
}
