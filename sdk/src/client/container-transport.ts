// Inside a container user code has no network: the Ferry runner installs a transport on
// `globalThis[Symbol.for("ferry.transport")]` that carries each API request to the node agent,
// which calls the platform with the workspace's token. The SDK bundled into the app uses it in
// place of `fetch` (see `FerryClient.raw`).

/** Where the runner puts the transport (shared across bundles by `Symbol.for`). */
export const API_TRANSPORT = Symbol.for("ferry.transport");

/** One API request and its answer, as the transport carries them (bodies as text: the API speaks JSON). */
export interface ApiTransportRequest { readonly method: string; readonly path: string; readonly body?: string; readonly signal?: AbortSignal }
export interface ApiTransportResponse { readonly status: number; readonly body: string; readonly contentType: string }

/** Carries `/v1` requests to the platform some other way than `fetch` (the in-container bridge). */
export interface ApiTransport { request(req: ApiTransportRequest): Promise<ApiTransportResponse> }

/**
 * The in-container transport, when this code runs inside a Ferry container; `undefined` elsewhere.
 *
 * @example
 * ```ts
 * if (containerTransport()) console.log("running in a Ferry container");
 * ```
 */
export const containerTransport = (): ApiTransport | undefined => {
  const t = (globalThis as { [API_TRANSPORT]?: unknown })[API_TRANSPORT];
  return t && typeof (t as ApiTransport).request === "function" ? t as ApiTransport : undefined;
};

/** Statuses whose response may carry no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * Send one request through `transport` and answer as `fetch` would.
 *
 * @example
 * ```ts
 * const res = await fetchVia(transport, "GET", "/v1/dicts");
 * ```
 */
export const fetchVia = async (transport: ApiTransport, method: string, path: string, body?: string, signal?: AbortSignal): Promise<Response> => {
  const r = await transport.request({ method, path, ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
  return new Response(NULL_BODY.has(r.status) ? null : r.body, { status: r.status, headers: { "content-type": r.contentType } });
};
