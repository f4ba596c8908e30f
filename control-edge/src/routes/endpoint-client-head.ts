import type { Context } from "hono";
import { PIN_REGION_HEADER } from "../regions/pinned-region.ts";

/** Request headers that describe one hop, not the request. */
export const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"]);

/** What the edge reads of a client's request headers, read once. */
export interface ClientHead {
  /** Every header but the hop-by-hop ones, names in lower case, in the order the client sent them (repeats kept). */
  readonly headers: Array<[string, string]>;
  readonly contentLength?: string;
  readonly authorization?: string;
  /** `x-ferry-region`. */
  readonly pin?: string;
}

const join = (was: string | undefined, v: string): string => (was === undefined ? v : `${was}, ${v}`);

/** Node's request, where the edge is served by Node (`@hono/node-server` passes it as the env). */
interface NodeBindings { readonly incoming?: { readonly rawHeaders?: ReadonlyArray<string> } }

/**
 * The client's request headers as pairs. Served by Node, they are read straight from the raw
 * header lines (no `Headers` object is built: this is every endpoint request's cost); elsewhere
 * (Workers) from the `Request`.
 *
 * @example
 * ```ts
 * const { headers, contentLength, authorization, pin } = clientHead(c);
 * ```
 */
export const clientHead = (c: Context): ClientHead => {
  const raw = (c.env as NodeBindings | undefined)?.incoming?.rawHeaders;
  const headers: Array<[string, string]> = [];
  let contentLength: string | undefined;
  let authorization: string | undefined;
  let pin: string | undefined;
  const take = (k: string, v: string) => {
    if (HOP_HEADERS.has(k)) return;
    // A repeated header reads as `Headers.get` would read it: its values joined.
    if (k === "content-length") contentLength = join(contentLength, v);
    else if (k === "authorization") authorization = join(authorization, v);
    else if (k === PIN_REGION_HEADER) pin = join(pin, v);
    headers.push([k, v]);
  };
  if (raw) {
    // HTTP/2 pseudo-headers (`:path`, …) are not headers of the request.
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.charCodeAt(0) !== 58) take(raw[i]!.toLowerCase(), raw[i + 1]!);
  } else {
    for (const [k, v] of c.req.raw.headers) take(k, v);
  }
  return { headers, contentLength, authorization, pin };
};
