import { FerryFunction, type BatchedFunctionOptions } from "./functions/function-handle.ts";
import type { FunctionOptions } from "./functions/function-options.ts";
import { FerryCls, type ClassOptions, type ClsHandle, type UserClass } from "./classes/cls.ts";
import { makeEndpoint, makeWebApp, type EndpointFunction, type EndpointHandler, type EndpointOptions, type FetchApp, type WebAppOptions } from "./endpoints/index.ts";

/** Brand shared across copies of the SDK (the CLI's and a bundled app's). */
export const APP_BRAND = Symbol.for("ferry.app");

/** The entrypoint `ferry run` executes; receives the arguments after `--`. */
export type LocalEntrypoint = (args: ReadonlyArray<string>) => unknown | Promise<unknown>;

/** Options of `new App(name, options)`. */
export interface AppOptions {
  /** Default image of the app's functions (image building arrives with the image builder). */
  readonly image?: unknown;
}

/**
 * An app: a named group of functions deployed together.
 *
 * @example
 * ```ts
 * export const app = new App("demo");
 * export const square = app.function({}, async (x: number) => x * x);
 * app.local(async () => console.log(await square.remote(3)));
 * ```
 */
export class App {
  readonly [APP_BRAND] = true;
  readonly name: string;
  readonly options: AppOptions;
  private readonly registered: Array<FerryFunction<never[], unknown>> = [];
  private readonly registeredClasses: FerryCls[] = [];
  private entrypoint: LocalEntrypoint | undefined;

  constructor(name: string, options: AppOptions = {}) {
    this.name = name;
    this.options = options;
  }

  /**
   * Wrap `fn` as a Ferry function of this app; its name is its export name unless `options.name`.
   * With `options.batch`, `fn` takes a list of inputs and returns one output per input, while
   * callers still pass one input and get one output: `app.function({ batch: { maxBatchSize: 8,
   * waitMs: 50 } }, async (xs: string[]) => embed(xs))` gives `.remote(x: string)`.
   */
  function<X, Y>(options: BatchedFunctionOptions, fn: (inputs: X[]) => Y[] | Promise<Y[]>): FerryFunction<[X], Y>;
  function<A extends unknown[], R>(options: FunctionOptions, fn: (...args: A) => R | Promise<R>): FerryFunction<A, Awaited<R>>;
  function(options: FunctionOptions | BatchedFunctionOptions, fn: (...args: never[]) => unknown): unknown {
    const handle = "batch" in options && options.batch
      ? FerryFunction.batched(this.name, options, fn as (inputs: unknown[]) => unknown[])
      : new FerryFunction(this.name, options, fn);
    this.registered.push(handle as unknown as FerryFunction<never[], unknown>);
    return handle;
  }

  /**
   * Serve `handler` over HTTP through the edge at `/<workspace>/<app>/<function><path>`: one
   * `method` (default GET; others get 405) at one `path` (default "/"). It runs in containers like
   * any function (every function option applies but batch, schedule, cluster and retries), scaled
   * from zero. `auth: "token"` requires a workspace or endpoint token; the default is public.
   *
   * @example
   * ```ts
   * export const hello = app.endpoint({ method: "GET", path: "/hello" }, (req) =>
   *   Response.json({ hello: new URL(req.url).searchParams.get("name") ?? "world" }));
   * ```
   */
  endpoint(options: EndpointOptions, handler: EndpointHandler): EndpointFunction {
    const handle = makeEndpoint(this.name, options, handler);
    this.registered.push(handle as unknown as FerryFunction<never[], unknown>);
    return handle;
  }

  /**
   * Serve a whole fetch-style app (a Hono app, say) through the edge: every method and path under
   * `/<workspace>/<app>/<function>/` goes to its `fetch`, with that prefix taken off the URL.
   * `factory` runs once per container, on its first request.
   *
   * @example
   * ```ts
   * export const api = app.webApp({ auth: "token" }, () =>
   *   new Hono().get("/users/:id", (c) => c.json({ id: c.req.param("id") })));
   * ```
   */
  webApp(options: WebAppOptions, factory: () => FetchApp | Promise<FetchApp>): EndpointFunction {
    const handle = makeWebApp(this.name, options, factory);
    this.registered.push(handle as unknown as FerryFunction<never[], unknown>);
    return handle;
  }

  /**
   * Wrap a class as a Ferry class of this app: one deployable unit whose methods share its
   * containers (`options` apply to it as to a function). Each container constructs it once, runs
   * `enter` before its first input and `exit` when it shuts down. Its name is its export name
   * unless `options.name`.
   *
   * @example
   * ```ts
   * export const Model = app.cls({ memory: 2048 }, class {
   *   size = "base";
   *   async enter() { this.model = await load(this.size); }
   *   async predict(x: string) { return this.model.run(x); }
   * });
   * await Model.predict.remote("hi");
   * await Model.with({ size: "small" }).predict.remote("hi"); // containers of its own
   * ```
   */
  cls<C extends UserClass>(options: ClassOptions, userClass: C): ClsHandle<InstanceType<C>> {
    const handle = new FerryCls<InstanceType<C>>(this.name, options, { userClass: userClass as unknown as UserClass<InstanceType<C>> });
    this.registeredClasses.push(handle as unknown as FerryCls);
    return handle as ClsHandle<InstanceType<C>>;
  }

  /** The app's classes, in registration order. */
  classes(): ReadonlyArray<FerryCls> {
    return this.registeredClasses;
  }

  /** Register the local entrypoint that `ferry run FILE` executes. */
  local(entrypoint: LocalEntrypoint): LocalEntrypoint {
    this.entrypoint = entrypoint;
    return entrypoint;
  }

  /** The app's functions, in registration order. */
  functions(): ReadonlyArray<FerryFunction<never[], unknown>> {
    return this.registered;
  }

  /** The local entrypoint, if one was registered. */
  localEntrypoint(): LocalEntrypoint | undefined {
    return this.entrypoint;
  }
}
