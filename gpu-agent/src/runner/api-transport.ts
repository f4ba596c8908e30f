// The runner's end of the API bridge: user code has no network, so the SDK bundled into the app
// reaches the public API through this transport, which the runner installs on
// `globalThis[Symbol.for("ferry.transport")]` before the app loads. Each request travels to the
// agent over fd 3; the agent adds the workspace token and calls the API. Bodies are text (the
// JSON the API speaks) or bytes (volume blocks and files), which cross fd 3 as base64.
import { Limits } from "../../../core/src/limits/limits.ts";
import { fromWireBody, toWireBody } from "./api-wire-body.ts";
import type { FromRunner, ToRunner } from "./runner-protocol.ts";

/** Where the SDK looks for the transport (shared with the SDK by `Symbol.for`). */
export const API_TRANSPORT = Symbol.for("ferry.transport");

/**
 * One API request as the SDK makes it, and its answer: bodies are text (JSON), or bytes (a
 * request's `application/octet-stream` body; an answer whose content type is not JSON or text).
 */
export interface ApiTransportRequest { readonly method: string; readonly path: string; readonly body?: string | Uint8Array; readonly signal?: AbortSignal }
export interface ApiTransportResponse { readonly status: number; readonly body: string | Uint8Array; readonly contentType: string }
/** `bytes: true` tells the SDK that this transport carries byte bodies (older runners carried text only). */
export interface ApiTransport { readonly bytes: true; request(req: ApiTransportRequest): Promise<ApiTransportResponse> }

type ApiResult = Extract<ToRunner, { t: "api_res" }>;

const tooLarge = (bytes: number): ApiTransportResponse => ({
  status: 413, contentType: "application/json",
  body: JSON.stringify({ error: { type: "PayloadTooLargeError", message: `request body is ${bytes} bytes; the limit (maxContainerApiRequestBytes) is ${Limits.maxContainerApiRequestBytes}` } }),
});

/**
 * Install the transport and return the handler for the agent's answers.
 *
 * @example
 * ```ts
 * const api = installApiTransport(send);
 * // on a line { t: "api_res", … } from the agent:
 * api.receive(msg);
 * ```
 */
export const installApiTransport = (send: (m: FromRunner) => void): { receive(m: ApiResult): void } => {
  const pending = new Map<string, { resolve: (r: ApiTransportResponse) => void; reject: (e: unknown) => void }>();
  let next = 0;
  const transport: ApiTransport = {
    bytes: true,
    request({ method, path, body, signal }) {
      if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) {
        return Promise.reject(new TypeError("an API request body is a string (JSON) or a Uint8Array (bytes)"));
      }
      const bytes = body === undefined ? 0 : typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
      // Refused here, before it crosses fd 3.
      if (bytes > Limits.maxContainerApiRequestBytes) return Promise.resolve(tooLarge(bytes));
      if (signal?.aborted) return Promise.reject(signal.reason);
      const id = String(++next);
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        signal?.addEventListener("abort", () => {
          if (!pending.delete(id)) return;
          send({ t: "api_abort", id });
          reject(signal.reason);
        }, { once: true });
        send({ t: "api", id, method, path, ...(body === undefined ? {} : { body: toWireBody(body) }) });
      });
    },
  };
  Object.defineProperty(globalThis, API_TRANSPORT, { value: transport, enumerable: false, writable: false, configurable: false });
  return {
    receive(m) {
      const waiter = pending.get(m.id);
      pending.delete(m.id);
      if (!waiter) return;
      const body = fromWireBody(m.body);
      if (body === undefined) waiter.reject(new Error(`the API bridge answered request ${m.id} with a malformed body`));
      else waiter.resolve({ status: m.status, body, contentType: m.contentType });
    },
  };
};
