/**
 * A small map whose entries expire `ttlMs` after they were set, bounded to `maxEntries` (it is
 * cleared when full). It holds no I/O object, so an edge on Workers may keep one per isolate.
 *
 * @example
 * ```ts
 * const functions = new TtlCache<string, FunctionRow>(1_000);
 * functions.set(fn.id, fn);
 * functions.get(fn.id); // fn, for one second
 * ```
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(ttlMs: number, maxEntries = 10_000) {
    this.ttlMs = ttlMs;
    this.maxEntries = maxEntries;
  }

  /** The value set for `key` within the last `ttlMs`, else `undefined`. */
  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (Date.now() - e.at >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: K, value: V): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { value, at: Date.now() });
  }
}
