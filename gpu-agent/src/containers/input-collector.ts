/** How a container groups waiting inputs into runner dispatches. */
export interface CollectorOptions {
  /** Most inputs in one dispatch: 1 for a plain function, `batch.maxBatchSize` for a batched one. */
  readonly maxSize: number;
  /** Longest the oldest waiting input waits for its group to fill (0: dispatch at once). */
  readonly waitMs: number;
}

/**
 * Inputs a container holds but has not started, in arrival order, across queue messages and
 * calls. A group is ready when `maxSize` inputs wait or the oldest has waited `waitMs`
 * (`@modal.batched` semantics); a plain function is `{ maxSize: 1, waitMs: 0 }`. Pure: the
 * caller passes the time.
 *
 * @example
 * ```ts
 * const c = new InputCollector<string>({ maxSize: 4, waitMs: 200 });
 * c.add("a", 0);
 * c.take(100); // undefined: one input, waited 100 ms of 200
 * c.take(200); // ["a"]
 * ```
 */
export class InputCollector<T> {
  private waiting: Array<{ readonly item: T; readonly since: number }> = [];
  private readonly options: CollectorOptions;

  constructor(options: CollectorOptions) {
    this.options = options;
  }

  /** Inputs waiting. */
  get size(): number {
    return this.waiting.length;
  }

  add(item: T, now: number): void {
    this.waiting.push({ item, since: now });
  }

  /** The next group to dispatch, oldest inputs first, if one is ready at `now`. */
  take(now: number): T[] | undefined {
    const at = this.readyAt();
    if (at === undefined || at > now) return undefined;
    return this.waiting.splice(0, this.options.maxSize).map((w) => w.item);
  }

  /** When the next group becomes ready (now or in the past when it already is); `undefined` when none wait. */
  readyAt(): number | undefined {
    const oldest = this.waiting[0];
    if (!oldest) return undefined;
    return this.waiting.length >= this.options.maxSize ? oldest.since : oldest.since + this.options.waitMs;
  }

  /** Take out every waiting input that `matches` (a cancelled call's), keeping the others' order. */
  removeWhere(matches: (item: T) => boolean): T[] {
    const removed = this.waiting.filter((w) => matches(w.item)).map((w) => w.item);
    this.waiting = this.waiting.filter((w) => !matches(w.item));
    return removed;
  }

  /** Take out every waiting input (the container is gone). */
  drain(): T[] {
    return this.removeWhere(() => true);
  }

  /** The waiting inputs, oldest first. */
  items(): T[] {
    return this.waiting.map((w) => w.item);
  }
}
