import { describe, expect, it } from "vitest";
import { GapHistogram, planRank } from "../src/autoscaler/rank-plan.ts";
import { DEFAULT_MAX_IDLE_S, ScalePolicy, type ScalePolicyOptions } from "../src/autoscaler/scale-policy.ts";

const COLD_START_MS = 20_000;
const S = 1000;

const options = (over: Partial<ScalePolicyOptions> = {}): ScalePolicyOptions => ({
  minContainers: 0, maxContainers: 100, bufferContainers: 0, scaledownWindowS: undefined, maxInputs: 1, ...over,
});

/** A policy that has already seen this function's containers take 20 s to start. */
const learnedPolicy = (): ScalePolicy => {
  const p = new ScalePolicy({ coldStartPriorMs: COLD_START_MS });
  p.observeColdStart(COLD_START_MS);
  return p;
};

/** One look of the autoscaler with `busy` inputs running and `queued` waiting: the target. */
const look = (p: ScalePolicy, atMs: number, busy: number, o: ScalePolicyOptions, queued = 0): number =>
  p.desiredContainers(atMs, { busy, queued, live: 0, idle: 0, starting: 0, options: o });

/**
 * Drives `p` second by second from `fromS` to `toS`: at each second `arrivals(t)` inputs arrive
 * and `busy(t)` run. Returns the target seen at each second.
 */
const drive = (
  p: ScalePolicy, o: ScalePolicyOptions, fromS: number, toS: number,
  busy: (t: number) => number, arrivals: (t: number) => number = () => 0,
): Map<number, number> => {
  const targets = new Map<number, number>();
  for (let t = fromS; t < toS; t++) {
    const n = arrivals(t);
    if (n > 0) p.observeArrival(t * S, n);
    targets.set(t, look(p, t * S, busy(t), o));
  }
  return targets;
};

describe("ScalePolicy", () => {
  it("keeps enough containers warm for a steady stream whose load swings every second", () => {
    const p = learnedPolicy();
    const o = options({ maxInputs: 4 });
    // 10 inputs (3 containers' worth) on even seconds, 2 on odd seconds, each running 1 s.
    const targets = drive(p, o, 0, 600, (t) => (t % 2 === 0 ? 10 : 2), (t) => (t % 2 === 0 ? 10 : 2));
    for (const [t, target] of targets) if (t > 0) expect(target, `at ${t} s`).toBeGreaterThanOrEqual(3);
  });

  it("releases every container within the idle limit after arrivals stop, and keeps them a while first", () => {
    const p = learnedPolicy();
    const o = options({ maxInputs: 4 });
    drive(p, o, 0, 600, (t) => (t % 2 === 0 ? 10 : 2), (t) => (t % 2 === 0 ? 10 : 2));
    const after = drive(p, o, 600, 600 + DEFAULT_MAX_IDLE_S + 2, () => 0);
    expect(after.get(610)).toBeGreaterThanOrEqual(1);
    expect(after.get(600 + DEFAULT_MAX_IDLE_S + 1)).toBe(0);
  });

  it("says until when the autoscaler must keep looking at a function that has gone quiet", () => {
    const p = learnedPolicy();
    const o = options({ maxInputs: 4, scaledownWindowS: 30 });
    drive(p, o, 0, 600, (t) => (t % 2 === 0 ? 10 : 2), (t) => (t % 2 === 0 ? 10 : 2));
    expect(p.settlesAt(599 * S, o)).toBe(Infinity);
    look(p, 600 * S, 0, o);
    const settles = p.settlesAt(600 * S, o);
    expect(settles).toBeGreaterThan(600 * S);
    expect(settles).toBeLessThanOrEqual(630 * S);
    expect(look(p, settles, 0, o)).toBe(0);
  });

  it("never keeps an idle container longer than a scaledownWindow the user set", () => {
    const p = learnedPolicy();
    const o = options({ maxInputs: 4, scaledownWindowS: 30 });
    drive(p, o, 0, 600, (t) => (t % 2 === 0 ? 10 : 2), (t) => (t % 2 === 0 ? 10 : 2));
    const after = drive(p, o, 600, 700, () => 0);
    expect(after.get(620)).toBeGreaterThanOrEqual(1);
    for (let t = 631; t < 700; t++) expect(after.get(t), `at ${t} s`).toBe(0);
  });

  it("pre-warms for a request every 5 minutes and stops the container in between", () => {
    const p = learnedPolicy();
    const o = options();
    // A request every 300 s that runs for 2 s.
    const targets = drive(p, o, 0, 300 * 12, (t) => (t % 300 < 2 ? 1 : 0), (t) => (t % 300 === 0 ? 1 : 0));
    for (let n = 6; n < 12; n++) {
      const at = n * 300;
      // Released well before the next request…
      expect(targets.get(at - 200), `${200} s before request ${n}`).toBe(0);
      // …and wanted again at least a cold start before it, so that it is ready when it comes.
      for (let t = at - COLD_START_MS / S - 1; t < at; t++) expect(targets.get(t), `${at - t} s before request ${n}`).toBe(1);
    }
  });

  it("keeps the container through gaps shorter than a cold start", () => {
    const p = learnedPolicy();
    const o = options();
    // A request every 15 s: restarting could never be ready in time.
    const targets = drive(p, o, 0, 600, (t) => (t % 15 < 2 ? 1 : 0), (t) => (t % 15 === 0 ? 1 : 0));
    for (const [t, target] of targets) expect(target, `at ${t} s`).toBe(1);
  });

  it("stops the container at once when the function is idle for far longer than a cold start costs", () => {
    const p = new ScalePolicy({ coldStartPriorMs: COLD_START_MS, latencyWeight: 1 });
    const o = options();
    // Irregular requests hours apart; each runs 2 s.
    const starts = [0, 5_000, 12_000, 15_500, 24_000, 29_000, 37_500, 41_000];
    const isStart = (t: number) => starts.includes(t);
    const busy = (t: number) => (starts.some((s) => t >= s && t < s + 2) ? 1 : 0);
    const targets = drive(p, o, 0, 41_100, busy, (t) => (isStart(t) ? 1 : 0));
    expect(targets.get(41_030)).toBe(0);
  });

  it("never goes below minContainers nor above maxContainers; the maximum wins", () => {
    const p = learnedPolicy();
    expect(look(p, 0, 0, options({ minContainers: 2 }))).toBe(2);
    expect(look(p, 1 * S, 0, options({ maxContainers: 3 }), 100)).toBe(3);
    expect(look(p, 2 * S, 0, options({ minContainers: 5, maxContainers: 2 }))).toBe(2);
  });

  it("adds bufferContainers on top of the containers in use, and none to a function at rest", () => {
    const p = learnedPolicy();
    expect(look(p, 0, 8, options({ maxInputs: 8, bufferContainers: 2 }))).toBe(3);
    const q = learnedPolicy();
    expect(look(q, 0, 0, options({ bufferContainers: 2 }))).toBe(0);
    expect(look(q, 0, 0, options({ bufferContainers: 2, maxContainers: 1 }), 5)).toBe(1);
  });

  it("plans starts and stops from the target, stopping only idle containers and counting starting ones", () => {
    const p = learnedPolicy();
    const o = options({ maxInputs: 4 });
    expect(p.plan(0, { busy: 0, queued: 12, live: 1, idle: 0, starting: 1, options: o })).toMatchObject({ target: 3, start: 2, release: 0 });
    const q = learnedPolicy();
    const busyAndIdle = { busy: 4, queued: 0, live: 4, idle: 3, options: options({ maxInputs: 4, scaledownWindowS: 0 }) };
    expect(q.plan(0, { ...busyAndIdle, starting: 0 })).toMatchObject({ target: 1, start: 0, release: 3 });
    const r = learnedPolicy();
    expect(r.plan(0, { ...busyAndIdle, starting: 2 })).toMatchObject({ target: 1, start: 0, release: 1 });
  });

  it("learns the cold-start length it is shown", () => {
    const p = new ScalePolicy({ coldStartPriorMs: 5_000 });
    for (let i = 0; i < 20; i++) p.observeColdStart(30_000);
    expect(p.coldStartEstimateMs).toBeCloseTo(30_000, -2);
  });

  it("learns the service time from the load (Little's law)", () => {
    const p = learnedPolicy();
    // 4 arrivals a second, 8 running: each runs about 2 s.
    drive(p, options({ maxInputs: 8 }), 0, 3_000, () => 8, () => 4);
    expect(p.serviceTimeS(3_000 * S)).toBeCloseTo(2, 1);
  });
});

describe("planRank", () => {
  const gaps = (...seconds: number[]): GapHistogram => {
    const h = new GapHistogram();
    for (const s of seconds) h.record(0, s);
    return h;
  };

  it("keeps a container through gaps cheaper to idle through than a cold start", () => {
    const plan = planRank(gaps(30, 40, 35, 30, 45), { coldStartS: 20, coldCostS: 1000, maxIdleS: 600 });
    expect(plan.prewarmS).toBe(0);
    expect(plan.keepS).toBeGreaterThanOrEqual(45);
  });

  it("stops it at once when the gaps are long and irregular", () => {
    const plan = planRank(gaps(2_000, 3_100, 4_500, 6_000, 7_700, 9_000), { coldStartS: 20, coldCostS: 500, maxIdleS: 600 });
    expect(plan).toEqual({ prewarmS: 0, keepS: 0 });
  });

  it("pre-warms to be ready before regular gaps end, then keeps until past them", () => {
    const plan = planRank(gaps(300, 300, 300, 300, 300), { coldStartS: 20, coldCostS: 1000, maxIdleS: 600 });
    expect(plan.prewarmS).toBeGreaterThan(0);
    expect(plan.prewarmS + 20).toBeLessThanOrEqual(300);
    expect(plan.keepS).toBeGreaterThan(300);
  });

  it("never has a container idle for longer than maxIdleS once it is ready", () => {
    const plan = planRank(gaps(100, 200, 400, 800), { coldStartS: 20, coldCostS: 10_000, maxIdleS: 60 });
    const readyAt = plan.prewarmS === 0 ? 0 : plan.prewarmS + 20;
    expect(plan.keepS - readyAt).toBeLessThanOrEqual(60);
  });
});
