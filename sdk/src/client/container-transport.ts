// Inside a container user code has no network: the Ferry runner installs a transport on
// `globalThis[Symbol.for("ferry.transport")]` that carries each API request to the node agent,
// which calls the platform with the workspace's token. The SDK bundled into the app uses it in
// place of `fetch` (see `FerryClient.raw`).

/** Where the runner puts the transport (shared across bundles by `Symbol.for`). */
export const API_TRANSPORT = Symbol.for("ferry.transport");

/**
 * One API request and its answer, as the transport carries them: text (the JSON the API speaks)
 * or bytes (a volume block upload; a volume file read).
 */
export interface ApiTransportRequest { readonly method: string; readonly path: string; readonly body?: string | Uint8Array; readonly signal?: AbortSignal }
export interface ApiTransportResponse { readonly status: number; readonly body: string | Uint8Array; readonly contentType: string }

/**
 * Carries `/v1` requests to the platform some other way than `fetch` (the in-container bridge).
 * `bytes: true`: it carries byte bodies too (a runner older than that carries text only).
 */
export interface ApiTransport { readonly bytes?: boolean; request(req: ApiTransportRequest): Promise<ApiTransportResponse> }

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
 * Send one request through `transport` and answer as `fetch` would. A byte body (or `bytes`
 * asked for the answer) needs a transport that carries bytes: an older runner's is refused with
 * a clear error rather than mangling them.
 *
 * @example
 * ```ts
 * const res = await fetchVia(transport, "GET", "/v1/dicts");
 * const file = await fetchVia(transport, "GET", "/v1/volumes/v/file?path=a.bin", undefined, undefined, { bytes: true });
 * ```
 */
export const fetchVia = async (
  transport: ApiTransport, method: string, path: string, body?: string | Uint8Array, signal?: AbortSignal, opts: { readonly bytes?: boolean } = {},
): Promise<Response> => {
  if ((opts.bytes || body instanceof Uint8Array) && !transport.bytes) {
    throw new Error("this container's Ferry runner carries only JSON through its API bridge, not bytes: redeploy the app on an up-to-date platform, or use the volume at its mount path");
  }
  const r = await transport.request({ method, path, ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
  return new Response(NULL_BODY.has(r.status) ? null : r.body as BodyInit, { status: r.status, headers: { "content-type": r.contentType } });
};
