import { Limits } from "@ferry/core";
import { isTextContentType, wireBodyBytes, type WireBody } from "../runner/api-wire-body.ts";

/**
 * One request from user code, as the runner relays it over fd 3: the body is text (sent as
 * `application/json`) or bytes as `{ base64 }` (sent as `application/octet-stream`). It comes
 * from inside the sandbox, so its shape is checked (`routeBridgeRequest`).
 */
export interface BridgeRequest { readonly method: string; readonly path: string; readonly body?: WireBody }
/** The answer relayed back into the container: text for JSON and text answers, else bytes as `{ base64 }`. */
export interface BridgeResponse { readonly status: number; readonly body: WireBody; readonly contentType: string }

/** Longest one bridged request may take: the API's longest wait (`maxWaitMs`) plus slack. */
export const CONTAINER_API_TIMEOUT_MS = Limits.maxWaitMs + 15_000;
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
/** Routes user code may not use through its container's token: it must not mint or revoke tokens. */
const DENIED_PATHS = [/^\/v1\/tokens(?:\/|$)/];

/** An answer in the API's error shape. */
export const bridgeError = (status: number, type: string, message: string): BridgeResponse =>
  ({ status, contentType: "application/json", body: JSON.stringify({ error: { type, message } }) });

/**
 * Where a bridged request goes, or the answer that refuses it (pure: no I/O). A request must name
 * a `/v1/` path of the API it is bridged to (after URL normalisation, so `..` cannot leave it),
 * use an ordinary method, stay within `maxContainerApiRequestBytes` and the in-flight limit, and
 * avoid the token routes.
 *
 * @example
 * ```ts
 * routeBridgeRequest({ method: "GET", path: "/v1/dicts" }, { apiUrl: "http://127.0.0.1:8787", inFlight: 0 });
 * // { url: "http://127.0.0.1:8787/v1/dicts" }
 * ```
 */
export const routeBridgeRequest = (req: BridgeRequest, ctx: { readonly apiUrl: string; readonly inFlight: number }): { readonly url: string } | { readonly refused: BridgeResponse } => {
  if (!ctx.apiUrl) return { refused: bridgeError(503, "UnavailableError", "the platform API is not reachable from this container: its region was started without an API URL") };
  if (!METHODS.has(req.method)) return { refused: bridgeError(400, "ValidationError", `method ${JSON.stringify(req.method)} is not allowed; use ${[...METHODS].join(", ")}`) };
  const body: unknown = req.body;
  const wellFormed = body === undefined || typeof body === "string" || (!!body && typeof body === "object" && typeof (body as { base64?: unknown }).base64 === "string");
  if (!wellFormed) return { refused: bridgeError(400, "ValidationError", "a bridged request's body is text or { base64 }") };
  const bytes = req.body === undefined ? 0 : wireBodyBytes(req.body);
  if (bytes > Limits.maxContainerApiRequestBytes) {
    return { refused: bridgeError(413, "PayloadTooLargeError", `request body is ${bytes} bytes; the limit (maxContainerApiRequestBytes) is ${Limits.maxContainerApiRequestBytes}`) };
  }
  if (ctx.inFlight >= Limits.maxContainerApiInFlight) {
    return { refused: bridgeError(429, "TooManyRequests", `this container has ${ctx.inFlight} API requests in flight (maxContainerApiInFlight ${Limits.maxContainerApiInFlight}); await some first`) };
  }
  const base = new URL(ctx.apiUrl);
  let url: URL;
  try {
    url = new URL(req.path, base);
  } catch {
    return { refused: bridgeError(400, "ValidationError", `not an API path: ${JSON.stringify(req.path)}`) };
  }
  if (!req.path.startsWith("/") || url.origin !== base.origin || !url.pathname.startsWith("/v1/")) {
    return { refused: bridgeError(400, "ValidationError", `not an API path: ${JSON.stringify(req.path)}; expected /v1/…`) };
  }
  if (DENIED_PATHS.some((p) => p.test(url.pathname))) {
    return { refused: bridgeError(403, "ForbiddenError", "API tokens cannot be managed from inside a container: use `ferry token` from outside") };
  }
  return { url: url.href };
};

/**
 * Read a response body as the wire carries it (text when `text`, else base64 bytes), or
 * `undefined` once it passes `maxBytes` (refused at once when its content-length says so).
 */
const readWithin = async (res: Response, maxBytes: number, text: boolean): Promise<WireBody | undefined> => {
  if (!res.body) return text ? "" : { base64: "" };
  if (Number(res.headers.get("content-length") ?? 0) > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    return undefined;
  }
  const decoder = new TextDecoder();
  let decoded = "";
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > maxBytes) {
      await res.body.cancel().catch(() => undefined);
      return undefined;
    }
    if (text) decoded += decoder.decode(chunk, { stream: true });
    else chunks.push(chunk);
  }
  return text ? decoded + decoder.decode() : { base64: Buffer.concat(chunks, bytes).toString("base64") };
};

/** The body and content type of a bridged request, as `fetch` sends them. */
const outgoing = (body: WireBody | undefined): { body?: string | Buffer; contentType?: string } => {
  if (body === undefined) return {};
  if (typeof body === "string") return { body, contentType: "application/json" };
  return { body: Buffer.from(body.base64, "base64"), contentType: "application/octet-stream" };
};

/**
 * The agent's side of a container's API bridge: performs user code's `/v1` requests against the
 * public API with the workspace token the region gave for this container (the token never enters
 * the sandbox), and relays status and body, bounded by `maxContainerApiResponseBytes`. JSON and
 * text answers are relayed as text; any other content type (a volume file) as bytes, base64.
 *
 * @example
 * ```ts
 * const bridge = new ApiBridge({ apiUrl: cmd.apiUrl, apiToken: cmd.apiToken });
 * const answer = await bridge.handle({ method: "GET", path: "/v1/dicts" });
 * ```
 */
export class ApiBridge {
  private readonly apiUrl: string;
  private readonly apiToken: string;
  private readonly fetchFn: typeof fetch;
  private inFlight = 0;

  constructor(opts: { readonly apiUrl: string; readonly apiToken: string; readonly fetch?: typeof fetch }) {
    this.apiUrl = opts.apiUrl;
    this.apiToken = opts.apiToken;
    this.fetchFn = opts.fetch ?? fetch;
  }

  async handle(req: BridgeRequest, signal?: AbortSignal): Promise<BridgeResponse> {
    const route = routeBridgeRequest(req, { apiUrl: this.apiUrl, inFlight: this.inFlight });
    if ("refused" in route) return route.refused;
    this.inFlight++;
    try {
      const timeout = AbortSignal.timeout(CONTAINER_API_TIMEOUT_MS);
      const out = outgoing(req.body);
      const res = await this.fetchFn(route.url, {
        method: req.method,
        headers: { authorization: `Bearer ${this.apiToken}`, ...(out.contentType ? { "content-type": out.contentType } : {}) },
        body: out.body as BodyInit | undefined,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const contentType = res.headers.get("content-type") ?? "application/json";
      const body = await readWithin(res, Limits.maxContainerApiResponseBytes, isTextContentType(contentType));
      if (body === undefined) {
        return bridgeError(413, "PayloadTooLargeError", `the API's answer is over ${Limits.maxContainerApiResponseBytes} bytes (maxContainerApiResponseBytes); ask for less at once (a volume file that large: read it at the volume's mount path)`);
      }
      return { status: res.status, body, contentType };
    } catch (e) {
      return bridgeError(503, "UnavailableError", `the platform API did not answer: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.inFlight--;
    }
  }
}
