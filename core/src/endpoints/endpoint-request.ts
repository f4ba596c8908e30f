/**
 * One web endpoint request as it travels to the container: the input of the endpoint's function.
 * The body is inline (base64) when small and announced by Content-Length, else it streams
 * piece by piece over `Subjects.endpointBody(requestId)` as the handler reads it.
 */
export interface EndpointRequestHead {
  /** Marks an input as an endpoint request (the runner tells it from a plain call's arguments). */
  readonly ferryEndpoint: 1;
  readonly requestId: string;
  readonly method: string;
  /** The URL the handler sees: the edge's origin, the path after `/<workspace>/<app>/<function>`, the query. */
  readonly url: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: { readonly kind: "none" } | { readonly kind: "inline"; readonly base64: string } | { readonly kind: "stream" };
}

/**
 * Whether a decoded input is an endpoint request (its one argument is an `EndpointRequestHead`).
 *
 * @example
 * ```ts
 * isEndpointRequest([{ ferryEndpoint: 1, requestId: "er-1", method: "GET", url: "http://x/", headers: [], body: { kind: "none" } }]); // true
 * ```
 */
export const isEndpointRequest = (args: ReadonlyArray<unknown>): args is [EndpointRequestHead] => {
  const head = args[0] as Partial<EndpointRequestHead> | undefined;
  return args.length === 1 && typeof head === "object" && head !== null && head.ferryEndpoint === 1 && typeof head.requestId === "string";
};

/** NATS headers of the endpoint body protocol (see `Subjects.endpointBody` / `endpointResponse`). */
export const EndpointWire = {
  /** On a response part: `head` (JSON status and headers; may carry the first bytes), `chunk`, `end`, `error`. */
  part: "Ferry-Part",
  /** On a head or chunk: this part also ends the body. */
  end: "Ferry-End",
  /** On a body piece reply: the body is over (the payload may still carry its last bytes). */
  eof: "Ferry-Eof",
  /** On a body piece reply: why no more can be read (`too-large`, `aborted`, `idle`). */
  error: "Ferry-Error",
  /** On the region's ack of a response part: the client went away; stop producing. */
  aborted: "Ferry-Aborted",
} as const;
