// Learning one container rank's idle gaps and choosing how to cover them (see `ScalePolicy`).

/** Idle gaps shorter than this share the first histogram bin, seconds. */
const FIRST_BIN_S = 0.25;
/** Each histogram bin is this much wider than the one before (log-spaced, ~70 bins to a day). */
const BIN_GROWTH = 1.2;
/** Gaps longer than this share the last bin, seconds. */
const LAST_EDGE_S = 100_000;
/** Observed gaps count half as much after this long: a changed pattern is re-learned within a day. */
const HISTORY_HALF_LIFE_S = 86_400;
/** For a rank once it goes idle: start it again `prewarmS` later (0: keep it), stop it at `keepS`. */
export interface RankPlan {
  readonly prewarmS: number;
  readonly keepS: number;
}

const EDGES: ReadonlyArray<number> = (() => {
  const e = [0, FIRST_BIN_S];
  while (e[e.length - 1] < LAST_EDGE_S) e.push(e[e.length - 1] * BIN_GROWTH);
  return e;
})();
/** The gap each bin stands for: its geometric middle (half the first edge for bin 0). */
const MIDS: ReadonlyArray<number> = EDGES.map((lo, i) => (i === 0 ? FIRST_BIN_S / 2 : Math.sqrt(lo * (EDGES[i + 1] ?? lo * BIN_GROWTH))));

/** How many bins stand for gaps shorter than `s`. */
const binsBelow = (s: number): number => {
  let lo = 0;
  let hi = MIDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (MIDS[mid] < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** The bin holding a gap of `s` seconds: the last whose lower edge is at most `s`. */
const binOf = (s: number): number => {
  let lo = 0;
  let hi = EDGES.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (EDGES[mid] <= s) lo = mid;
    else hi = mid - 1;
  }
  return lo;
};

/**
 * Exponentially decayed counts of one rank's idle gaps in log-spaced bins.
 *
 * @example
 * ```ts
 * const h = new GapHistogram();
 * h.record(0, 60); // a 60 s gap ended at time 0
 * h.total; // 1
 * ```
 */
export class GapHistogram {
  readonly weights: number[] = new Array<number>(MIDS.length).fill(0);
  private decayedAt: number | undefined;

  /** A gap of `gapS` seconds ended at `nowMs`. */
  record(nowMs: number, gapS: number): void {
    if (this.decayedAt !== undefined) {
      const f = 0.5 ** ((nowMs - this.decayedAt) / 1000 / HISTORY_HALF_LIFE_S);
      for (let i = 0; i < this.weights.length; i++) this.weights[i] *= f;
    }
    this.decayedAt = nowMs;
    this.weights[binOf(gapS)] += 1;
  }

  get total(): number {
    return this.weights.reduce((a, b) => a + b, 0);
  }
}

/**
 * The cheapest way to cover a rank's idle gaps as learned in `gaps`: keep its container from the
 * moment it goes idle (`prewarmS` 0), or stop it at once and start it again `prewarmS` later; in
 * both cases stop it at `keepS` (at most `maxIdleS` of warm idling). A gap costs the container-
 * seconds paid in it plus, where it ends with no container ready, `coldCostS` (the cold start and
 * the waits it causes); a gap ending while the container is still starting pays part of the
 * waits. This is ski rental against a learned distribution, as in the hybrid histogram policy of
 * Shahrad et al., "Serverless in the Wild" (ATC '20), with pre-warming and keeping costed alike.
 *
 * @example
 * ```ts
 * const h = new GapHistogram();
 * for (let i = 0; i < 10; i++) h.record(i, 300); // every gap about 5 minutes
 * planRank(h, { coldStartS: 20, coldCostS: 1000, maxIdleS: 600 }); // { prewarmS: 212.6…, keepS: 306.2… }
 * ```
 */
export const planRank = (
  gaps: GapHistogram,
  c: { readonly coldStartS: number; readonly coldCostS: number; readonly maxIdleS: number },
): RankPlan => {
  const n = MIDS.length;
  const count = new Array<number>(n + 1).fill(0);
  const sum = new Array<number>(n + 1).fill(0);
  for (let i = 0; i < n; i++) {
    count[i + 1] = count[i] + gaps.weights[i];
    sum[i + 1] = sum[i] + gaps.weights[i] * MIDS[i];
  }
  const total = count[n];
  const h = c.coldStartS;
  const waits = Math.max(0, c.coldCostS - h);
  // Two families: keep from the moment it goes idle (the first, `prewarmS` 0, which includes
  // stopping at once), or stop and start again later. Restarting must save at least a cold start
  // per gap over keeping, for what the model leaves out (placement, capacity that may be gone).
  const best = [{ cost: total * c.coldCostS, plan: { prewarmS: 0, keepS: 0 } }, { cost: Infinity, plan: { prewarmS: 0, keepS: 0 } }];
  for (let a = 0; a < EDGES.length; a++) {
    const p = EDGES[a];
    const ready = a === 0 ? 0 : p + h;
    const ip = a; // bins of gaps ending before p (an edge)
    // Bins of gaps that may end while the container is starting: any whose lower edge is before it
    // is ready, each paying the start and the waits from its lower edge on (erring towards waits).
    let ir = ip;
    let starting = 0;
    while (a > 0 && ir < n && EDGES[ir] < ready) {
      starting += gaps.weights[ir] * (h + (waits * Math.min(1, (ready - EDGES[ir]) / h)));
      ir++;
    }
    const early = count[ip] * c.coldCostS;
    const latest = ready + c.maxIdleS;
    const family = best[a === 0 ? 0 : 1];
    for (let b = 0; b <= EDGES.length; b++) {
      const t = b === EDGES.length ? latest : EDGES[b];
      if (t < ready || t > latest) continue;
      const it = Math.max(ir, binsBelow(t));
      const warm = sum[it] - sum[ir] - p * (count[it] - count[ir]);
      const late = (total - count[it]) * (t - p + c.coldCostS);
      const cost = early + starting + warm + late;
      if (cost < family.cost - 1e-9) {
        family.cost = cost;
        family.plan = { prewarmS: p, keepS: t };
      }
    }
  }
  return best[1].cost + total * h < best[0].cost ? best[1].plan : best[0].plan;
};
