import type { EndpointMethod } from "@ferry/core";
import { FerryFunction } from "../functions/function-handle.ts";
import type { FunctionOptions } from "../functions/function-options.ts";

/** Function options an endpoint takes: all but those that make no sense for an HTTP request. */
export type EndpointFunctionOptions = Omit<FunctionOptions, "batch" | "schedule" | "cluster" | "retries" | "endpoint">;

/** Options of `app.endpoint(options, handler)`. */
export interface EndpointOptions extends EndpointFunctionOptions {
  /** The one method it answers (others get 405). Default "GET". */
  readonly method?: EndpointMethod | Lowercase<EndpointMethod>;
  /** The path it answers under `/<workspace>/<app>/<function>` (others get 404). Default "/". */
  readonly path?: string;
  /** "token": callers send `Authorization: Bearer` with a workspace or endpoint token; "none" (the default): public. */
  readonly auth?: "token" | "none";
}

/** Options of `app.webApp(options, factory)`: like an endpoint's, without `method` and `path` (the app routes them). */
export interface WebAppOptions extends EndpointFunctionOptions {
  readonly auth?: "token" | "none";
}

/** A web endpoint's handler: a fetch-style function. */
export type EndpointHandler = (request: Request) => Response | Promise<Response>;

/** Anything with a fetch-style `fetch` (a Hono app, an itty-router, a hand-written object). */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

/** A deployed web endpoint: a Ferry function taking a `Request` and returning a `Response`. */
export type EndpointFunction = FerryFunction<[Request], Response>;

/**
 * The function behind `app.endpoint`: `handler` runs in a container for each request to its
 * method and path.
 *
 * @example
 * ```ts
 * const hello = makeEndpoint("demo", { method: "GET", path: "/hello" }, () => new Response("hi"));
 * await hello.local(new Request("http://x/hello")); // Response "hi"
 * ```
 */
export const makeEndpoint = (appName: string, options: EndpointOptions, handler: EndpointHandler): EndpointFunction => {
  const { method, path, auth, ...rest } = options;
  return new FerryFunction<[Request], Response>(appName, {
    ...rest,
    endpoint: { kind: "endpoint", method: (method?.toUpperCase() ?? "GET") as EndpointMethod, path: path ?? "/", auth: auth ?? "none" },
  }, handler);
};

/**
 * The function behind `app.webApp`: `factory` builds the app once per container, on its first
 * request; every request under the function's prefix goes to its `fetch`.
 *
 * @example
 * ```ts
 * const api = makeWebApp("demo", {}, () => new Hono().get("/users/:id", (c) => c.json({ id: c.req.param("id") })));
 * ```
 */
export const makeWebApp = (appName: string, options: WebAppOptions, factory: () => FetchApp | Promise<FetchApp>): EndpointFunction => {
  const { auth, ...rest } = options;
  let built: Promise<FetchApp> | undefined;
  return new FerryFunction<[Request], Response>(appName, { ...rest, endpoint: { kind: "webApp", auth: auth ?? "none" } }, async (request) => {
    built ??= Promise.resolve().then(factory);
    const app = await built;
    if (!app || typeof app.fetch !== "function") throw new TypeError("the webApp factory must return an app with a fetch(request) method (a Hono app, for one)");
    return app.fetch(request);
  });
};
