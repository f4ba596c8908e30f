import { randomBytes } from "node:crypto";
import type { HranaStream } from "./hrana-stream.ts";

/** How many streams may wait under batons, and for how long each without a request. */
export interface HranaBatonsOptions {
  readonly maxStreams: number;
  readonly idleMs: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/**
 * Streams kept between requests, each under a baton that is good for one request: every answer
 * carries a fresh baton, so a stream is never served twice at once. Streams idle past `idleMs`
 * are dropped when the next request comes (no timer to stop).
 *
 * @example
 * ```ts
 * const batons = new HranaBatons({ maxStreams: Limits.maxSqlStreams, idleMs: Limits.sqlStreamIdleMs });
 * if (batons.reserve()) baton = batons.park(new HranaStream(executor, 100));
 * batons.take(baton); // the stream, once
 * ```
 */
export class HranaBatons {
  readonly #streams = new Map<string, HranaStream>();
  readonly #opts: HranaBatonsOptions;
  /** Streams being served now (taken, or reserved for a new stream): they count against `maxStreams` too. */
  #inUse = 0;

  constructor(opts: HranaBatonsOptions) {
    this.#opts = opts;
  }

  #now(): number {
    return this.#opts.now?.() ?? Date.now();
  }

  #sweep(): void {
    const oldest = this.#now() - this.#opts.idleMs;
    for (const [baton, stream] of this.#streams) if (stream.lastUsedMs < oldest) this.#streams.delete(baton);
  }

  /** Streams open now: parked under a baton or being served. */
  get size(): number {
    this.#sweep();
    return this.#streams.size + this.#inUse;
  }

  /** Hold a place for a new stream; `false` when `maxStreams` are open. `park` or `release` it after. */
  reserve(): boolean {
    if (this.size >= this.#opts.maxStreams) return false;
    this.#inUse++;
    return true;
  }

  /** The stream under `baton`, now in use (its baton is spent); `undefined` if unknown or expired. `park` or `release` it after. */
  take(baton: string): HranaStream | undefined {
    this.#sweep();
    const stream = this.#streams.get(baton);
    if (stream === undefined) return undefined;
    this.#streams.delete(baton);
    this.#inUse++;
    return stream;
  }

  /** Keep an in-use stream for its next request; returns the baton that names it. */
  park(stream: HranaStream): string {
    const baton = randomBytes(18).toString("base64url");
    stream.lastUsedMs = this.#now();
    this.#streams.set(baton, stream);
    this.#inUse--;
    return baton;
  }

  /** Let go of an in-use stream that ended (closed, or its request failed). */
  release(): void {
    this.#inUse--;
  }
}
