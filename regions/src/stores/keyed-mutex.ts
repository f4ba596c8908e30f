/**
 * Runs async sections one at a time per key (a Queue's capacity check and its writes), in
 * arrival order; different keys run concurrently. Keys are forgotten once idle.
 *
 * @example
 * ```ts
 * const locks = new KeyedMutex();
 * await locks.run("FQ_ws-1_jobs", async () => checkThenWrite());
 * ```
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<A>(key: string, section: () => Promise<A>): Promise<A> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await section();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a section running or waiting (for tests). */
  get size(): number {
    return this.tails.size;
  }
}
