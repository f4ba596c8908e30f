import { Cron } from "croner";
import { latestPeriodTick, nextPeriodTick, type CronSchedule, type ScheduleOption } from "@ferry/core";

/** Cron expressions parse with 5 fields, or 6 with seconds first; no year field. */
const CRON_MODE = "5-or-6-parts";

/** Parsed cron expressions, by expression and timezone: the scheduler asks about them many times a second. */
const parsed = new Map<string, Cron>();
const PARSED_CACHE_ENTRIES = 10_000;

const cronOf = (s: CronSchedule): Cron => {
  const key = `${s.timezone ?? ""}\n${s.cron}`;
  let c = parsed.get(key);
  if (!c) {
    c = new Cron(s.cron, { timezone: s.timezone ?? "UTC", mode: CRON_MODE, paused: true });
    if (parsed.size >= PARSED_CACHE_ENTRIES) parsed.clear();
    parsed.set(key, c);
  }
  return c;
};

/**
 * Why a cron schedule cannot run, or `undefined` when it can: a malformed expression, an unknown
 * timezone, or an expression that names no future time (`0 0 31 2 *`).
 *
 * @example
 * ```ts
 * cronProblem({ kind: "cron", cron: "61 * * * *" }, Date.now()); // "Invalid value for minute: 61"
 * ```
 */
export const cronProblem = (s: CronSchedule, nowMs: number): string | undefined => {
  try {
    if (!cronOf(s).nextRun(new Date(nowMs))) return `the cron expression "${s.cron}" names no future time`;
    return undefined;
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).replace(/^Cron(Pattern|Date): /, "");
    return `invalid cron expression "${s.cron}"${s.timezone ? ` in timezone "${s.timezone}"` : ""}: ${message}`;
  }
};

/**
 * The latest tick of a schedule in `(sinceMs, nowMs]`, or `undefined`: what a scheduler that
 * last looked at `sinceMs` should run now. Period ticks count from `anchorMs` (the app's latest
 * deploy); cron ticks are the expression's times.
 *
 * @example
 * ```ts
 * dueTick({ kind: "period", seconds: 1 }, 0, 1_500, 2_200); // 2_000
 * dueTick({ kind: "cron", cron: "0 * * * *" }, 0, Date.parse("2026-01-01T00:59:59Z"), Date.parse("2026-01-01T01:00:00.2Z")); // 01:00:00
 * ```
 */
export const dueTick = (s: ScheduleOption, anchorMs: number, sinceMs: number, nowMs: number): number | undefined => {
  const since = Math.max(sinceMs, anchorMs);
  if (nowMs <= since) return undefined;
  if (s.kind === "period") return latestPeriodTick(s.seconds, anchorMs, since, nowMs);
  const cron = cronOf(s);
  let latest: number | undefined;
  for (let t = cron.nextRun(new Date(since)); t && t.getTime() <= nowMs; t = cron.nextRun(t)) latest = t.getTime();
  return latest;
};

/**
 * The next `count` ticks of a schedule strictly after `afterMs` (fewer when a cron expression runs
 * out of times).
 *
 * @example
 * ```ts
 * nextTicks({ kind: "period", seconds: 60 }, 0, 90_000, 2); // [120_000, 180_000]
 * ```
 */
export const nextTicks = (s: ScheduleOption, anchorMs: number, afterMs: number, count: number): number[] => {
  const out: number[] = [];
  let after = Math.max(afterMs, anchorMs);
  if (s.kind === "period") {
    for (let i = 0; i < count; i++) out.push((after = nextPeriodTick(s.seconds, anchorMs, after)));
    return out;
  }
  const cron = cronOf(s);
  for (let t = cron.nextRun(new Date(after)); t && out.length < count; t = cron.nextRun(t)) out.push(t.getTime());
  return out;
};
