import { Schema } from "effect";

/** HTTP methods an `app.endpoint` may answer. */
export const ENDPOINT_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;
export type EndpointMethod = (typeof ENDPOINT_METHODS)[number];

const EndpointPath = Schema.String.check(Schema.isPattern(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,511}$/, {
  message: "expected a path starting with '/' (at most 512 characters, no query), e.g. \"/hello\"",
}));

/**
 * `endpoint`: set by `app.endpoint` and `app.webApp` on a function served over HTTP through the
 * edge at `/<workspace>/<app>/<function>/…`. `kind: "endpoint"` answers one `method` at one
 * `path` (under that prefix); `kind: "webApp"` hands every method and path to the app.
 * `auth: "token"` requires a workspace or endpoint token; `"none"` (the default) is public.
 *
 * @example
 * ```ts
 * Schema.decodeUnknownSync(EndpointOption)({ kind: "endpoint", method: "GET", path: "/", auth: "none" });
 * ```
 */
export const EndpointOption = Schema.Struct({
  kind: Schema.Literals(["endpoint", "webApp"]),
  method: Schema.optional(Schema.Literals(ENDPOINT_METHODS)),
  path: Schema.optional(EndpointPath),
  auth: Schema.optional(Schema.Literals(["token", "none"])),
});
export type EndpointOption = typeof EndpointOption.Type;

/** An endpoint's settings with defaults filled in: GET at "/", public. */
export interface ResolvedEndpoint {
  readonly kind: "endpoint" | "webApp";
  readonly method: EndpointMethod;
  readonly path: string;
  readonly auth: "token" | "none";
}

/**
 * Fill in an endpoint's defaults (method GET, path "/", auth "none").
 *
 * @example
 * ```ts
 * resolveEndpoint({ kind: "endpoint" }); // { kind: "endpoint", method: "GET", path: "/", auth: "none" }
 * ```
 */
export const resolveEndpoint = (o: EndpointOption): ResolvedEndpoint => ({
  kind: o.kind,
  method: o.method ?? "GET",
  path: o.path ?? "/",
  auth: o.auth ?? "none",
});
