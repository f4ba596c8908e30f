import { BodyPieces, Limits, type BodyPiece as Piece } from "@ferry/core";

/** One piece of a request body as the region hands it out: bytes, the end, or why it stopped. */
export type BodyPiece = Piece;

/**
 * A forwarded request's body as the container pulls it (queue path): `BodyPieces` over the rest
 * of the stream after the head line, starting with what followed the line (`leftover`).
 *
 * @example
 * ```ts
 * const source = new BodySource(reader, leftover);
 * const piece = await source.next(); // { data, eof }
 * ```
 */
export class BodySource extends BodyPieces {
  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, leftover: Uint8Array | undefined, maxBytes: number = Limits.maxEndpointBodyBytes) {
    super(reader, { leftover, maxBytes });
  }
}
