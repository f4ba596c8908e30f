import { concatBytes } from "../bytes/concat-bytes.ts";
import { Limits } from "../limits/limits.ts";

/** One piece of a web endpoint's request body: bytes (`eof` on the last), or why it cannot go on. */
export type BodyPiece =
  | { readonly data: Uint8Array; readonly eof: boolean }
  | { readonly error: "too-large" | "failed" | "idle"; readonly message: string };

/** Options of `BodyPieces`. */
export interface BodyPiecesOptions {
  /** Bytes already read off the stream that belong first (what followed a head line). */
  readonly leftover?: Uint8Array;
  /** The most it hands out in all (default `Limits.maxEndpointBodyBytes`); past it every pull answers `too-large`. */
  readonly maxBytes?: number;
  /** A sender silent this long is given up on (`idle`); no limit when left out. */
  readonly idleMs?: number;
}

/**
 * A request body handed out piece by piece as its reader pulls: never more than
 * `Limits.endpointBodyChunkBytes` at once, never more than `maxBytes` in all. The edge reads the
 * client's body with it (fast path) and the region the body behind a forwarded head line (queue
 * path). Web APIs only: it runs on Workers too.
 *
 * @example
 * ```ts
 * const body = new BodyPieces(request.body!, { idleMs: Limits.endpointIdleStreamTimeoutMs });
 * const piece = await body.next(); // { data, eof } or { error, message }
 * ```
 */
export class BodyPieces {
  private readonly source: ReadableStream<Uint8Array> | ReadableStreamDefaultReader<Uint8Array>;
  /** Taken at the first read of a stream: until then the body may still go another way untouched. */
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private pending: Uint8Array | undefined;
  private readonly maxBytes: number;
  private readonly idleMs: number | undefined;
  private total = 0;
  private ended = false;
  /** Set once the body passed `maxBytes`. */
  tooLarge = false;

  constructor(source: ReadableStream<Uint8Array> | ReadableStreamDefaultReader<Uint8Array>, opts: BodyPiecesOptions = {}) {
    this.source = source;
    if (!(source instanceof ReadableStream)) this.reader = source;
    this.pending = opts.leftover && opts.leftover.byteLength > 0 ? opts.leftover : undefined;
    this.maxBytes = opts.maxBytes ?? Limits.maxEndpointBodyBytes;
    this.idleMs = opts.idleMs;
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
      const read = await this.read();
      if ("error" in read) return read;
      if (read.done) {
        this.ended = true;
        return { data: new Uint8Array(0), eof: true };
      }
      piece = read.value;
    }
    if (piece.byteLength > Limits.endpointBodyChunkBytes) {
      this.pending = piece.subarray(Limits.endpointBodyChunkBytes);
      piece = piece.subarray(0, Limits.endpointBodyChunkBytes);
    }
    this.total += piece.byteLength;
    if (this.total > this.maxBytes) {
      this.tooLarge = true;
      this.cancel();
      return this.overLimit();
    }
    return { data: piece, eof: false };
  }

  /** Read the whole (small) body: for bodies that travel inline. */
  async readAll(): Promise<Uint8Array | Extract<BodyPiece, { error: string }>> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const p = await this.next();
      if ("error" in p) return p;
      parts.push(p.data);
      if (p.eof) return concatBytes(parts);
    }
  }

  cancel(): void {
    this.ended = true;
    void (this.reader ?? (this.source as ReadableStream<Uint8Array>)).cancel().catch(() => undefined);
  }

  private async read(): Promise<ReadableStreamReadResult<Uint8Array> | Extract<BodyPiece, { error: string }>> {
    const reader = (this.reader ??= (this.source as ReadableStream<Uint8Array>).getReader());
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (this.idleMs === undefined) return await reader.read();
      const idleMs = this.idleMs;
      const r = await Promise.race([reader.read(), new Promise<"idle">((resolve) => (timer = setTimeout(() => resolve("idle"), idleMs)))]);
      if (r !== "idle") return r;
      this.cancel();
      return { error: "idle", message: `the client sent no body bytes for ${idleMs} ms (endpointIdleStreamTimeoutMs)` };
    } catch (e) {
      return { error: "failed", message: `the client's body failed: ${(e as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  private overLimit(): Extract<BodyPiece, { error: string }> {
    return { error: "too-large", message: `request body over ${this.maxBytes} bytes (maxEndpointBodyBytes)` };
  }
}
