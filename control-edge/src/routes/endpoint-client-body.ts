import { concatBytes, Limits } from "@ferry/core";

/** One piece of the client's request body: bytes (`eof` on the last), or why it cannot go on. */
export type ClientBodyPiece =
  | { readonly data: Uint8Array; readonly eof: boolean }
  | { readonly error: "too-large" | "failed" | "idle"; readonly message: string };

/**
 * The client's request body as the container pulls it on the fast path: pieces of at most
 * `Limits.endpointBodyChunkBytes`, never more than `maxBytes` in all (`too-large` then), and a
 * client that sends nothing for `idleMs` is given up on (`idle`).
 *
 * @example
 * ```ts
 * const body = new ClientBody(request.body!);
 * const piece = await body.next(); // { data, eof } or { error, message }
 * ```
 */
export class ClientBody {
  private readonly body: ReadableStream<Uint8Array>;
  /** Taken at the first read: until then the body may still go another way untouched. */
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private pending: Uint8Array | undefined;
  private total = 0;
  private ended = false;
  private readonly maxBytes: number;
  private readonly idleMs: number;

  constructor(body: ReadableStream<Uint8Array>, maxBytes: number = Limits.maxEndpointBodyBytes, idleMs: number = Limits.endpointIdleStreamTimeoutMs) {
    this.body = body;
    this.maxBytes = maxBytes;
    this.idleMs = idleMs;
  }

  async next(): Promise<ClientBodyPiece> {
    if (this.ended) return { data: new Uint8Array(0), eof: true };
    let piece = this.pending;
    this.pending = undefined;
    if (!piece) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const r = await Promise.race([
          (this.reader ??= this.body.getReader()).read(),
          new Promise<"idle">((resolve) => (timer = setTimeout(() => resolve("idle"), this.idleMs))),
        ]);
        if (r === "idle") {
          this.cancel();
          return { error: "idle", message: `the client sent no body bytes for ${this.idleMs} ms (endpointIdleStreamTimeoutMs)` };
        }
        if (r.done) {
          this.ended = true;
          return { data: new Uint8Array(0), eof: true };
        }
        piece = r.value;
      } catch (e) {
        return { error: "failed", message: `the client's body failed: ${(e as Error).message}` };
      } finally {
        clearTimeout(timer);
      }
    }
    if (piece.byteLength > Limits.endpointBodyChunkBytes) {
      this.pending = piece.subarray(Limits.endpointBodyChunkBytes);
      piece = piece.subarray(0, Limits.endpointBodyChunkBytes);
    }
    this.total += piece.byteLength;
    if (this.total > this.maxBytes) {
      this.cancel();
      return { error: "too-large", message: `request body over ${this.maxBytes} bytes (maxEndpointBodyBytes)` };
    }
    return { data: piece, eof: false };
  }

  /** Read a whole small body (one announced by a Content-Length within `endpointInlineBodyBytes`). */
  async readAll(): Promise<Uint8Array | Extract<ClientBodyPiece, { error: string }>> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const p = await this.next();
      if ("error" in p) return p;
      parts.push(p.data);
      if (p.eof) return parts.length === 1 ? parts[0]! : concatBytes(parts);
    }
  }

  cancel(): void {
    this.ended = true;
    void (this.reader ?? this.body).cancel().catch(() => undefined);
  }
}
