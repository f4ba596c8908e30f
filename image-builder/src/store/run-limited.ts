/**
 * `task` applied to every item with at most `concurrency` running at once; results in input order.
 *
 * @example
 * ```ts
 * const present = await runLimited(digests, 16, (d) => store.has(d));
 * ```
 */
export const runLimited = async <T, R>(items: ReadonlyArray<T>, concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> => {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
};
