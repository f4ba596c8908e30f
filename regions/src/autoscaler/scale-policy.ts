import { GapHistogram, planRank, type RankPlan } from "./rank-plan.ts";

export type { RankPlan } from "./rank-plan.ts";

/** Below this many (decayed) observed gaps a rank is kept for its break-even time alone. */
const MIN_HISTORY = 3;
/** A rank's keep/pre-warm plan is recomputed at most this often, ms. */
const PLAN_REFRESH_MS = 5_000;
/** Window of the running averages of arrivals and running inputs (Little's law), seconds. */
const LOAD_WINDOW_S = 600;
/** Weight of the newest measurement in the running cold-start and onset-cost estimates. */
const SMOOTHING = 0.3;
/** Service time assumed until arrivals and running inputs have been seen, seconds. */
const DEFAULT_SERVICE_S = 1;

/** Cold-start length assumed until one is observed. */
export const DEFAULT_COLD_START_MS = 10_000;
/** Longest an idle container is kept when the function sets no `scaledownWindow`, seconds. */
export const DEFAULT_MAX_IDLE_S = 600;
/**
 * Container-seconds that one second of one input waiting for a cold start is worth. High on
 * purpose: the policy aims at the tail latency of a long fixed window (it matches a 600 s window's
 * p99 on the Azure LLM trace, `bench/trace.ts`) and saves by stopping the containers whose absence
 * costs little waiting, and the ones whose gaps it knows to be too long to idle through.
 */
export const DEFAULT_LATENCY_WEIGHT = 200;

/** The function's scaling options. */
export interface ScalePolicyOptions {
  readonly minContainers: number;
  readonly maxContainers: number;
  readonly bufferContainers: number;
  /**
   * The `scaledownWindow` the user set (seconds), or `undefined` when left out. Set, it is the
   * longest any container is kept idle; left out, the policy keeps one at most `DEFAULT_MAX_IDLE_S`.
   */
  readonly scaledownWindowS: number | undefined;
  /** Concurrent inputs per container. */
  readonly maxInputs: number;
}

/** What the autoscaler sees of one function at one instant. */
export interface ScaleObservation {
  /** Inputs running in containers. */
  readonly busy: number;
  /** Inputs waiting for a free slot. */
  readonly queued: number;
  /** Containers starting or running. */
  readonly live: number;
  /** Ready containers running no input: the ones that may be stopped. */
  readonly idle: number;
  /** Containers still starting (counted in `live`). */
  readonly starting: number;
  readonly options: ScalePolicyOptions;
}

/** What to do now. */
export interface ScalePlan {
  /** Containers to have, busy or warm. */
  readonly target: number;
  /** Containers to start. */
  readonly start: number;
  /** Idle containers to stop (the longest idle first). */
  readonly release: number;
}

/** Tuning of a `ScalePolicy`; the defaults suit functions whose cold starts are seconds or more. */
export interface ScalePolicyConfig {
  /** Cold-start length assumed until the first is observed (`DEFAULT_COLD_START_MS`). */
  readonly coldStartPriorMs?: number;
  /** Container-seconds one input-second of waiting is worth (`DEFAULT_LATENCY_WEIGHT`). */
  readonly latencyWeight?: number;
}

interface Rank {
  /** Since when (ms) demand has not needed this rank, or undefined while it does. */
  idleSince: number | undefined;
  readonly gaps: GapHistogram;
  /** While measuring what this rank's absence costs after a need began: when the horizon ends. */
  horizonEnd: number | undefined;
  /** Work (input-seconds) queued in two fluid models: without this rank, and with it. */
  readonly backlog: [number, number];
  /** Input-seconds of waiting its absence adds in the current horizon. */
  horizonWait: number;
  /** The same, smoothed over the horizons measured so far. */
  onsetWait: number | undefined;
  /** Its current plan, when and for which idle limit it was made, and whether new data came since. */
  plan: RankPlan | undefined;
  plannedAt: number;
  plannedFor: number;
  dirty: boolean;
}

/**
 * A per-function scaling policy that learns the function's arrival pattern.
 *
 * Containers are ranked: rank k is needed while more than (k-1)·maxInputs inputs run or wait.
 * Containers are started for every running or waiting input, as before; what the policy decides is
 * which idle containers to keep. For each rank it learns two things: the distribution of its idle
 * gaps (how long until it is needed again), and what its absence costs when a need begins (the
 * waits of the inputs that arrive during one cold start, in a fluid queue without it and the ranks
 * above it, less those with it). From them `planRank` picks, per rank, to keep it through its gaps,
 * to stop it and start it again just before the next need is likely, or to stop it at once.
 *
 * Combining with the user's options: the target is the containers needed now plus the ranks that
 * are warm by their plans, plus `bufferContainers` whenever that is above zero, clamped to
 * `[minContainers, maxContainers]` (the maximum wins). A `scaledownWindow` the user set is the
 * longest any container idles; left out, `DEFAULT_MAX_IDLE_S`. Within that bound an idle rank is
 * kept at least until its break-even time (the idle container-seconds worth one cold start of it)
 * unless its history shows that its gaps are too long to be worth keeping through, so that a gap
 * longer than any seen before costs at most about twice the best choice.
 *
 * Time comes in as arguments; the policy does no I/O.
 *
 * @example
 * ```ts
 * const policy = new ScalePolicy(); // one per function, kept while the region runs
 * policy.observeArrival(Date.now(), inputs); // on every enqueue
 * policy.observeColdStart(readyAt - startedAt); // when a container becomes ready
 * // on every autoscaler look (scaledownWindowS: the user's own setting, undefined if unset):
 * const { start, release } = policy.plan(Date.now(), { busy, queued, live, idle, starting, options });
 * // start `start` containers, stop the `release` longest-idle ones; keep looking until
 * // policy.settlesAt(Date.now(), options) even with no containers
 * ```
 */
export class ScalePolicy {
  private readonly ranks: Rank[] = [];
  private coldStartMs: number;
  private coldStartsSeen = 0;
  private readonly latencyWeight: number;
  /** Running averages over `LOAD_WINDOW_S`: arrivals per second and inputs running. */
  private arrivalRate = 0;
  private busyAvg = 0;
  private loadAt: number | undefined;
  private lastBusy = 0;
  /** Inputs that arrived since the last look, and when that was. */
  private unseenArrivals = 0;
  private lastLookAt: number | undefined;

  constructor(config: ScalePolicyConfig = {}) {
    this.coldStartMs = config.coldStartPriorMs ?? DEFAULT_COLD_START_MS;
    this.latencyWeight = config.latencyWeight ?? DEFAULT_LATENCY_WEIGHT;
  }

  /** `count` inputs arrived at `nowMs`. */
  observeArrival(nowMs: number, count = 1): void {
    this.advance(nowMs);
    this.arrivalRate += count / LOAD_WINDOW_S;
    this.unseenArrivals += count;
  }

  /** A container of this function took `durationMs` from start to ready. */
  observeColdStart(durationMs: number): void {
    // The first measurement replaces the prior; later ones move the running estimate.
    this.coldStartMs = this.coldStartsSeen++ === 0 ? durationMs : this.coldStartMs + SMOOTHING * (durationMs - this.coldStartMs);
    for (const r of this.ranks) r.dirty = true;
  }

  /** The learned cold-start length, ms. */
  get coldStartEstimateMs(): number {
    return this.coldStartMs;
  }

  /** Seconds an input holds a slot: running inputs over arrival rate (Little's law). */
  serviceTimeS(nowMs: number): number {
    this.advance(nowMs);
    return this.arrivalRate > 0 && this.busyAvg > 0 ? this.busyAvg / this.arrivalRate : DEFAULT_SERVICE_S;
  }

  /**
   * What to do now. Call it on every look of the autoscaler (it learns from the load it is shown).
   * Containers still starting count against the target before idle ones are stopped.
   */
  plan(nowMs: number, o: ScaleObservation): ScalePlan {
    const target = this.desiredContainers(nowMs, o);
    return {
      target,
      start: Math.max(0, target - o.live),
      release: Math.max(0, Math.min(o.idle, o.live - o.starting - target)),
    };
  }

  /** The containers, busy or warm, to have now. */
  desiredContainers(nowMs: number, o: ScaleObservation): number {
    const opts = o.options;
    const m = Math.max(1, opts.maxInputs);
    const needed = Math.min(Math.ceil((o.busy + o.queued) / m), opts.maxContainers);
    this.learn(nowMs, o.busy, needed, m);
    let warm = needed;
    for (let k = needed; k < this.ranks.length; k++) {
      const r = this.ranks[k];
      if (r.idleSince === undefined) continue;
      const p = this.rankPlan(nowMs, r, opts);
      const age = (nowMs - r.idleSince) / 1000;
      if (age >= p.prewarmS && age < p.keepS) warm++;
    }
    const withBuffer = warm > 0 ? warm + opts.bufferContainers : 0;
    return Math.min(opts.maxContainers, Math.max(opts.minContainers, withBuffer));
  }

  /**
   * When (ms), with no new work, no rank will be kept or pre-warmed any more, so the target stays
   * at `minContainers` for good: until then the autoscaler must keep looking at the function, even
   * with no containers (pre-warming starts some). `Infinity` while work is running or waiting.
   */
  settlesAt(nowMs: number, options: ScalePolicyOptions): number {
    let at = nowMs;
    for (const r of this.ranks) {
      if (r.idleSince === undefined) return Infinity;
      at = Math.max(at, r.idleSince + this.rankPlan(nowMs, r, options).keepS * 1000);
    }
    return at;
  }

  private advance(nowMs: number): void {
    if (this.loadAt !== undefined && nowMs > this.loadAt) {
      const dt = (nowMs - this.loadAt) / 1000;
      const f = Math.exp(-dt / LOAD_WINDOW_S);
      this.arrivalRate *= f;
      this.busyAvg = this.busyAvg * f + (this.lastBusy * dt) / LOAD_WINDOW_S;
    }
    if (this.loadAt === undefined || nowMs > this.loadAt) this.loadAt = nowMs;
  }

  /** Learns from one look: each rank's gaps, and the cost of its absence after a need begins. */
  private learn(nowMs: number, busy: number, needed: number, m: number): void {
    this.advance(nowMs);
    this.lastBusy = busy;
    const arrived = this.unseenArrivals;
    this.unseenArrivals = 0;
    const elapsedS = this.lastLookAt === undefined ? 0 : Math.max(0, nowMs - this.lastLookAt) / 1000;
    this.lastLookAt = nowMs;
    const serviceS = this.serviceTimeS(nowMs);
    while (this.ranks.length < needed) {
      const r: Rank = {
        idleSince: undefined, gaps: new GapHistogram(), horizonEnd: undefined, backlog: [0, 0],
        horizonWait: 0, onsetWait: undefined, plan: undefined, plannedAt: 0, plannedFor: 0, dirty: true,
      };
      this.startHorizon(r, nowMs);
      this.ranks.push(r);
    }
    for (let k = 0; k < this.ranks.length; k++) {
      const r = this.ranks[k];
      if (k < needed && r.idleSince !== undefined) {
        r.gaps.record(nowMs, (nowMs - r.idleSince) / 1000);
        r.idleSince = undefined;
        r.dirty = true;
        if (r.horizonEnd === undefined) this.startHorizon(r, nowMs);
      } else if (k >= needed && r.idleSince === undefined) {
        r.idleSince = nowMs;
      }
      if (r.horizonEnd !== undefined) this.measureAbsence(r, k, nowMs, arrived, elapsedS, serviceS, m);
    }
  }

  private startHorizon(r: Rank, nowMs: number): void {
    r.horizonEnd = nowMs + this.coldStartMs;
    r.backlog[0] = 0;
    r.backlog[1] = 0;
    r.horizonWait = 0;
  }

  /**
   * Two fluid queues of the work arriving in the horizon: one with the capacity of the ranks below
   * this one, one with it too. Each input waits until the work ahead of it drains, at most until
   * a cold start begun with the horizon would end. The difference is what this rank's absence costs.
   */
  private measureAbsence(r: Rank, k: number, nowMs: number, arrived: number, elapsedS: number, serviceS: number, m: number): void {
    const horizonEnd = r.horizonEnd!;
    const left = Math.max(0, (horizonEnd - nowMs) / 1000);
    for (const j of [0, 1] as const) {
      const capacity = (k + j) * m;
      const backlog = Math.max(0, r.backlog[j] - capacity * elapsedS);
      const wait = capacity === 0 ? left : Math.min(left, backlog / capacity);
      r.horizonWait += (j === 0 ? 1 : -1) * arrived * wait;
      r.backlog[j] = backlog + arrived * serviceS;
    }
    if (nowMs >= horizonEnd) {
      r.onsetWait = r.onsetWait === undefined ? r.horizonWait : r.onsetWait + SMOOTHING * (r.horizonWait - r.onsetWait);
      r.horizonEnd = undefined;
      r.dirty = true;
    }
  }

  /** Container-seconds one cold start of `r` costs: the start, and the waits priced. */
  private coldCostS(r: Rank): number {
    const wait = r.onsetWait ?? r.horizonWait;
    return this.coldStartMs / 1000 + this.latencyWeight * Math.max(0, wait);
  }

  private rankPlan(nowMs: number, r: Rank, opts: ScalePolicyOptions): RankPlan {
    const maxIdleS = opts.scaledownWindowS ?? DEFAULT_MAX_IDLE_S;
    const fresh = !r.dirty || nowMs - r.plannedAt < PLAN_REFRESH_MS;
    if (r.plan !== undefined && r.plannedFor === maxIdleS && fresh) return r.plan;
    const coldStartS = this.coldStartMs / 1000;
    const coldCostS = this.coldCostS(r);
    const breakEven = Math.min(maxIdleS, coldCostS);
    const learned = r.gaps.total < MIN_HISTORY ? undefined : planRank(r.gaps, { coldStartS, coldCostS, maxIdleS });
    // Keeping through the gaps seen so far, keep on to the break-even time too (ski rental).
    r.plan = learned === undefined || (learned.prewarmS === 0 && learned.keepS > 0)
      ? { prewarmS: 0, keepS: Math.max(learned?.keepS ?? 0, breakEven) }
      : learned;
    r.plannedAt = nowMs;
    r.plannedFor = maxIdleS;
    r.dirty = false;
    return r.plan;
  }
}
