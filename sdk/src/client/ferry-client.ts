import { FerryApiError, NotConfiguredError } from "../errors.ts";
import { resolveClientConfig, type ClientConfig } from "../config/client-config.ts";
import { fetchVia } from "./container-transport.ts";

/** One finished input as the API returns it (values and errors still encoded). */
export type WireOutput =
  | { readonly idx: number; readonly ok: true; readonly value: unknown }
  | { readonly idx: number; readonly ok: false; readonly kind: "error" | "timeout" | "crash"; readonly error: unknown };

export interface CreateCallResponse {
  readonly callId: string;
  readonly outputs?: ReadonlyArray<WireOutput>;
  readonly done?: boolean;
  readonly cancelled?: boolean;
}

export interface DeployResponse {
  readonly app: { readonly id: string; readonly name: string; readonly environment: string; readonly mode: string };
  readonly functions: ReadonlyArray<{ readonly id: string; readonly name: string }>;
  /** Functions whose running containers this deploy replaced (their bundle or options changed). */
  readonly restarted?: ReadonlyArray<string>;
}

/** An end-of-stream line of `/v1/calls/:id/outputs`. */
export interface StreamEnd { readonly done: boolean; readonly cancelled: boolean; readonly total?: number }

/**
 * The `/v1` HTTP API as the SDK and CLI use it. Every non-2xx answer becomes a `FerryApiError`
 * carrying the status, the error type and the field at fault.
 */
export class FerryClient {
  readonly config: ClientConfig;

  constructor(config: ClientConfig) {
    this.config = config;
  }

  /**
   * A client for the configured platform (inside a Ferry container: the platform that runs it,
   * through the container's API bridge), or `NotConfiguredError`.
   */
  static async fromEnvironment(): Promise<FerryClient> {
    const config = await resolveClientConfig();
    if (!config) throw new NotConfiguredError("no Ferry platform configured: run `ferry up`, or set FERRY_URL and FERRY_TOKEN");
    return new FerryClient(config);
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.raw(method, path, body, signal);
    return (await res.json()) as T;
  }

  async raw(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = this.config.transport
      ? await fetchVia(this.config.transport, method, path, text, signal)
      : await fetch(`${this.config.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.config.token}`, ...(text === undefined ? {} : { "content-type": "application/json" }) },
        body: text,
        signal,
      });
    return FerryClient.checked(res);
  }

  /**
   * Like `raw`, for the routes that carry bytes: `bytes` (if any) goes as
   * `application/octet-stream`, and the answer's body is read with `arrayBuffer()`. Inside a
   * container it goes through the API bridge, within its limits (`maxContainerApiRequestBytes`,
   * `maxContainerApiResponseBytes`).
   *
   * @example
   * ```ts
   * const res = await client.rawBytes("GET", "/v1/volumes/weights/file?path=a.bin");
   * const data = new Uint8Array(await res.arrayBuffer());
   * ```
   */
  async rawBytes(method: string, path: string, bytes?: Uint8Array, signal?: AbortSignal): Promise<Response> {
    const res = this.config.transport
      ? await fetchVia(this.config.transport, method, path, bytes, signal, { bytes: true })
      : await fetch(`${this.config.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.config.token}`, ...(bytes === undefined ? {} : { "content-type": "application/octet-stream" }) },
        body: bytes as Uint8Array<ArrayBuffer> | undefined,
        signal,
      });
    return FerryClient.checked(res);
  }

  /** `res` if it is a 2xx, else its error body as a `FerryApiError`. */
  private static async checked(res: Response): Promise<Response> {
    if (!res.ok) {
      const text = await res.text();
      let parsed: { error?: { type?: string; message?: string; field?: string } } = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (a proxy's page, say): report the text
      }
      const e = parsed.error;
      if (e && typeof e === "object") throw new FerryApiError(res.status, e.type ?? "Error", e.message ?? text, e.field);
      throw new FerryApiError(res.status, "Error", text || res.statusText);
    }
    return res;
  }

  deploy(body: { name: string; mode: "deployed" | "ephemeral"; environment?: string; regions?: string[]; bundle: string; functions: ReadonlyArray<{ name: string; options: unknown }> }): Promise<DeployResponse> {
    return this.request("POST", "/v1/apps", body);
  }

  createCall(functionId: string, inputs: ReadonlyArray<unknown>, opts: { close: boolean; waitMs?: number }): Promise<CreateCallResponse> {
    return this.request("POST", `/v1/functions/${functionId}/calls`, { inputs, close: opts.close, waitMs: opts.waitMs });
  }

  appendInputs(callId: string, startIdx: number, inputs: ReadonlyArray<unknown>, close: boolean): Promise<unknown> {
    return this.request("POST", `/v1/calls/${callId}/inputs`, { startIdx, inputs, close });
  }

  cancelCall(callId: string): Promise<unknown> {
    return this.request("POST", `/v1/calls/${callId}/cancel`);
  }

  lookupFunction(app: string, name: string, environment?: string): Promise<{ id: string; name: string; app: { id: string; name: string } }> {
    const q = new URLSearchParams({ app, name, ...(environment ? { environment } : {}) });
    return this.request("GET", `/v1/functions/lookup?${q}`);
  }

  /**
   * Stream a call's outputs as they finish, for up to `waitMs`; yields groups of outputs and
   * returns how the stream ended.
   */
  async *streamOutputs(callId: string, waitMs: number, signal?: AbortSignal): AsyncGenerator<ReadonlyArray<WireOutput>, StreamEnd> {
    const res = await this.raw("GET", `/v1/calls/${callId}/outputs?waitMs=${Math.round(waitMs)}`, undefined, signal);
    if (!res.body) return { done: false, cancelled: false };
    const decoder = new TextDecoder();
    let tail = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const lines = (tail + decoder.decode(chunk, { stream: true })).split("\n");
      tail = lines.pop() ?? "";
      for (const line of lines) {
        if (!line) continue;
        const event = JSON.parse(line) as { type: "outputs"; outputs: WireOutput[] } | ({ type: "end" } & StreamEnd);
        if (event.type === "outputs") yield event.outputs;
        else return event;
      }
    }
    return { done: false, cancelled: false };
  }
}
