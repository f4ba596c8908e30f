import { BodyPieces, Limits, type BodyPiece } from "@ferry/core";

/** One piece of the client's request body: bytes (`eof` on the last), or why it cannot go on. */
export type ClientBodyPiece = BodyPiece;

/**
 * The client's request body as the container pulls it on the fast path: `BodyPieces` with the
 * endpoint limits, giving up on a client that sends nothing for `idleMs`.
 *
 * @example
 * ```ts
 * const body = new ClientBody(request.body!);
 * const piece = await body.next(); // { data, eof } or { error, message }
 * ```
 */
export class ClientBody extends BodyPieces {
  constructor(body: ReadableStream<Uint8Array>, maxBytes: number = Limits.maxEndpointBodyBytes, idleMs: number = Limits.endpointIdleStreamTimeoutMs) {
    super(body, { maxBytes, idleMs });
  }
}
