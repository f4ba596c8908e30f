// The agents that could take one kind of demand, best first, as a binary heap that drops an
// agent for good once it no longer fits. That is sound because within one auction an agent's
// score never changes and its capacity and remaining starts only shrink: an agent that cannot
// take a demand now cannot take one like it later.

/** A candidate's place in the order: lower score first, then lower rank, then lower GPU group. */
export interface CandidateKey {
  readonly score: number;
  readonly rank: number;
  readonly group: number;
}

/**
 * Whether key `a` comes strictly before key `b`.
 *
 * @example
 * ```ts
 * precedes({ score: 1, rank: 5, group: 0 }, { score: 1, rank: 7, group: 0 }); // true
 * ```
 */
export const precedes = (a: CandidateKey, b: CandidateKey): boolean =>
  a.score < b.score || (a.score === b.score && (a.rank < b.rank || (a.rank === b.rank && a.group < b.group)));

/**
 * A lazily pruned heap of (agent, GPU group, score) entries.
 *
 * @example
 * ```ts
 * const q = new CandidateQueue([4, 9], [-1, -1], [0.2, 0.1], rank);
 * const e = q.bestFeasible((agent) => ledger.freeCpu[agent] >= 1);
 * if (e >= 0) q.agentOf(e);
 * ```
 */
export class CandidateQueue {
  readonly #agent: Int32Array;
  readonly #group: Int32Array;
  readonly #score: Float64Array;
  readonly #rank: Int32Array;
  readonly #heap: Int32Array;
  #size: number;

  constructor(agents: ReadonlyArray<number>, groups: ReadonlyArray<number>, scores: ReadonlyArray<number>, rank: Int32Array) {
    this.#agent = Int32Array.from(agents);
    this.#group = Int32Array.from(groups);
    this.#score = Float64Array.from(scores);
    this.#rank = rank;
    this.#size = agents.length;
    this.#heap = new Int32Array(this.#size);
    for (let i = 0; i < this.#size; i++) this.#heap[i] = i;
    for (let i = (this.#size >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  /** Entries not yet dropped. */
  get size(): number {
    return this.#size;
  }

  /** The best entry that `fits`, dropping for good the better ones that do not; -1 when none is left. */
  bestFeasible(fits: (agent: number, group: number) => boolean): number {
    while (this.#size > 0) {
      const top = this.#heap[0];
      if (fits(this.#agent[top], this.#group[top])) return top;
      this.#size--;
      this.#heap[0] = this.#heap[this.#size];
      this.#siftDown(0);
    }
    return -1;
  }

  /** The agent number of an entry returned by `bestFeasible`. */
  agentOf(entry: number): number {
    return this.#agent[entry];
  }

  /** The agent's GPU group of the entry (-1 for CPU-only). */
  groupOf(entry: number): number {
    return this.#group[entry];
  }

  /** The entry's place in the order, to compare it with another queue's best. */
  keyOf(entry: number): CandidateKey {
    return { score: this.#score[entry], rank: this.#rank[this.#agent[entry]], group: this.#group[entry] };
  }

  #less(x: number, y: number): boolean {
    const sx = this.#score[x];
    const sy = this.#score[y];
    if (sx !== sy) return sx < sy;
    const rx = this.#rank[this.#agent[x]];
    const ry = this.#rank[this.#agent[y]];
    return rx !== ry ? rx < ry : this.#group[x] < this.#group[y];
  }

  #siftDown(at: number): void {
    const heap = this.#heap;
    const n = this.#size;
    let i = at;
    const moving = heap[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.#less(heap[right], heap[left]) ? right : left;
      if (!this.#less(heap[child], moving)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = moving;
  }
}
