// Lines of JSON exchanged between the agent and the runner inside a sandbox, over fd 3.
import type { EndpointRequestHead } from "../../../core/src/endpoints/endpoint-request.ts";
import { StringDecoder } from "node:string_decoder";
import type { WireBody } from "./api-wire-body.ts";

/** Agent → runner. */
export type ToRunner =
  // `function` names a function or a class; `params` (value codec) are a class instance's parameters.
  | { readonly t: "load"; readonly bundle: string; readonly function: string; readonly params?: unknown }
  | { readonly t: "in"; readonly id: string; readonly args: unknown }
  // A warm pool sandbox's runner is given its container before the `load`: the container's environment, set before the app is imported.
  | { readonly t: "assign"; readonly env: Readonly<Record<string, string>> }
  // A batched function's inputs, run as one call of the user's function; one `out` per id.
  | { readonly t: "batch"; readonly ids: ReadonlyArray<string>; readonly args: ReadonlyArray<unknown> }
  // The answer to a runner's `api` request, relayed from the public API by the agent (text, or bytes as `{ base64 }`).
  | { readonly t: "api_res"; readonly id: string; readonly status: number; readonly body: WireBody; readonly contentType: string }
  // The answer to a runner's `volume` request: the outcome of a commit, a reload's plan, or why it failed.
  | { readonly t: "volume_res"; readonly id: string; readonly ok: true; readonly value: unknown }
  | { readonly t: "volume_res"; readonly id: string; readonly ok: false; readonly error: string }
  // A web endpoint request's next body piece (base64), pulled with `ep_pull`; `eof` ends it, `error` says why it cannot go on.
  | { readonly t: "ep_body"; readonly id: string; readonly data?: string; readonly eof?: boolean; readonly error?: string }
  // The region wrote a response part (`ep_res`) of request `id`; `aborted`: its client is gone, stop producing.
  | { readonly t: "ep_ack"; readonly id: string; readonly aborted?: boolean }
  // A web endpoint request sent straight to this container (the warm fast path, not an input):
  // served like an endpoint input, its parts and pulls under `id`; no `out`, and no ack of its last part.
  | { readonly t: "ep_req"; readonly id: string; readonly head: EndpointRequestHead }
  | { readonly t: "shutdown" };

/** Runner → agent. */
export type FromRunner =
  | { readonly t: "ready" }
  // A runner in a warm pool sandbox is up and waits for its `assign`.
  | { readonly t: "waiting" }
  | { readonly t: "load_error"; readonly error: unknown }
  | { readonly t: "out"; readonly id: string; readonly ok: true; readonly value: unknown }
  | { readonly t: "out"; readonly id: string; readonly ok: false; readonly error: unknown }
  | { readonly t: "log"; readonly id: string; readonly stream: "stdout" | "stderr"; readonly text: string }
  // User code calling the public `/v1` API through the agent (the API bridge), the body text or bytes as `{ base64 }`; `api_abort` gives up on one.
  | { readonly t: "api"; readonly id: string; readonly method: string; readonly path: string; readonly body?: WireBody }
  | { readonly t: "api_abort"; readonly id: string }
  // User code's `vol.commit()` / `vol.reload()` on a mounted volume, by name; `applied` ends a reload
  // (the runner wrote its plan into the directory; `failed` lists paths it could not write).
  | { readonly t: "volume"; readonly id: string; readonly op: "commit" | "reload" | "applied"; readonly name: string; readonly failed?: ReadonlyArray<string> }
  // A web endpoint handler reading its request body (`id` is the endpoint request id): the next piece, please.
  | { readonly t: "ep_pull"; readonly id: string }
  // One part of a web endpoint's response: the head (status, headers, maybe first bytes), a chunk (base64), the end, or an error cutting it short.
  | { readonly t: "ep_res"; readonly id: string; readonly part: "head" | "chunk" | "end" | "error"; readonly status?: number; readonly headers?: ReadonlyArray<readonly [string, string]>; readonly data?: string; readonly end?: boolean; readonly error?: string };

/** Brands the SDK puts on its objects, shared with the SDK by `Symbol.for` across bundles. */
export const FUNCTION_BRAND = Symbol.for("ferry.function");
export const APP_BRAND = Symbol.for("ferry.app");
export const CLS_BRAND = Symbol.for("ferry.cls");

/**
 * Split a byte stream into lines, keeping a partial tail for the next chunk. A long line (a
 * bridged body of MiBs) is gathered in pieces and joined once, when its newline arrives, and a
 * UTF-8 character cut between chunks is decoded whole.
 *
 * @example
 * ```ts
 * control.on("data", lineSplitter((line) => line && handle(JSON.parse(line))));
 * ```
 */
export const lineSplitter = (onLine: (line: string) => void) => {
  const decoder = new StringDecoder("utf8");
  let pending: string[] = [];
  return (chunk: Buffer | string) => {
    const text = typeof chunk === "string" ? chunk : decoder.write(chunk);
    if (!text.includes("\n")) {
      if (text) pending.push(text);
      return;
    }
    const lines = (pending.length === 0 ? text : pending.join("") + text).split("\n");
    const tail = lines.pop()!;
    pending = tail ? [tail] : [];
    for (const l of lines) onLine(l);
  };
};
