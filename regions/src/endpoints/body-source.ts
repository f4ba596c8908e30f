import { Limits } from "@ferry/core";

/** One piece of a request body as the region hands it out: bytes, the end, or why it stopped. */
export type BodyPiece = { readonly data: Uint8Array; readonly eof: boolean } | { readonly error: "too-large" | "failed"; readonly message: string };

/**
 * A request body read piece by piece as the container pulls it: never more than
 * `Limits.endpointBodyChunkBytes` at once, and never more than `maxBytes` in all (then every
 * pull answers `too-large`).
 *
 * @example
 * ```ts
 * const source = new BodySource(reader, leftover);
 * const piece = await source.next(); // { data, eof }
 * ```
 */
export class BodySource {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private pending: Uint8Array | undefined;
  private readonly maxBytes: number;
  private total = 0;
  private ended = false;
  /** Set once the body passed `maxBytes`. */
  tooLarge = false;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, leftover: Uint8Array | undefined, maxBytes: number = Limits.maxEndpointBodyBytes) {
    this.reader = reader;
    this.pending = leftover && leftover.byteLength > 0 ? leftover : undefined;
    this.maxBytes = maxBytes;
  }

  /** Bytes handed out so far. */
  get bytesRead(): number {
    return this.total;
  }

  async next(): Promise<BodyPiece> {
    if (this.tooLarge) return this.overLimit();
    if (this.ended) return { data: new Uint8Array(0), eof: true };
    let piece = this.pending;
    this.pending = undefined;
    if (!piece) {
      try {
        const r = await this.reader.read();
        if (r.done) {
          this.ended = true;
          return { data: new Uint8Array(0), eof: true };
        }
        piece = r.value;
      } catch (e) {
        return { error: "failed", message: `the client's body failed: ${(e as Error).message}` };
      }
    }
    if (piece.byteLength > Limits.endpointBodyChunkBytes) {
      this.pending = piece.subarray(Limits.endpointBodyChunkBytes);
      piece = piece.subarray(0, Limits.endpointBodyChunkBytes);
    }
    this.total += piece.byteLength;
    if (this.total > this.maxBytes) {
      this.tooLarge = true;
      void this.reader.cancel().catch(() => undefined);
      return this.overLimit();
    }
    return { data: piece, eof: false };
  }

  /** Read the whole (small) body: for bodies that travel inline. */
  async readAll(): Promise<Uint8Array | BodyPiece> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const p = await this.next();
      if ("error" in p) return p;
      parts.push(p.data);
      if (p.eof) return Buffer.concat(parts);
    }
  }

  cancel(): void {
    void this.reader.cancel().catch(() => undefined);
  }

  private overLimit(): BodyPiece {
    return { error: "too-large", message: `request body over ${this.maxBytes} bytes (maxEndpointBodyBytes)` };
  }
}
