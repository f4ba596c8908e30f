import { Schema } from "effect";
import { Limits } from "../limits/limits.ts";

/**
 * `schedule: Cron("0 * * * *")`: run at the times a cron expression names (5 fields, or 6 with
 * seconds first), in UTC unless `timezone` (an IANA name) says otherwise. The expression itself
 * is checked at deploy by a region (regions own the cron parser).
 */
export const CronSchedule = Schema.Struct({
  kind: Schema.Literal("cron"),
  cron: Schema.String.check(Schema.isBetweenLength(1, Limits.maxCronExpressionLength)),
  timezone: Schema.optional(Schema.String.check(Schema.isBetweenLength(1, Limits.maxCronExpressionLength))),
});
export type CronSchedule = typeof CronSchedule.Type;

/** `schedule: Period({ minutes: 5 })`: run every `seconds`, counted from the app's latest deploy. */
export const PeriodSchedule = Schema.Struct({
  kind: Schema.Literal("period"),
  seconds: Schema.Number.check(Schema.isBetween(
    { minimum: Limits.minSchedulePeriodS, maximum: Limits.maxSchedulePeriodS },
    { message: `a Period must be between ${Limits.minSchedulePeriodS} s (minSchedulePeriodS) and ${Limits.maxSchedulePeriodS} s (maxSchedulePeriodS)` },
  )),
});
export type PeriodSchedule = typeof PeriodSchedule.Type;

/** The `schedule` option of a deployed function, as it travels in the manifest. */
export const ScheduleOption = Schema.Union([CronSchedule, PeriodSchedule]);
export type ScheduleOption = typeof ScheduleOption.Type;

/**
 * The latest tick of a period schedule in `(sinceMs, nowMs]`: ticks are `anchorMs + k·period`
 * for k ≥ 1 (the first run is one period after the deploy that anchors it).
 *
 * @example
 * ```ts
 * latestPeriodTick(5, 0, 9_000, 12_000); // 10_000
 * latestPeriodTick(5, 0, 10_000, 12_000); // undefined: 10_000 was already due
 * ```
 */
export const latestPeriodTick = (periodS: number, anchorMs: number, sinceMs: number, nowMs: number): number | undefined => {
  const periodMs = periodS * 1000;
  const k = Math.floor((nowMs - anchorMs) / periodMs);
  if (k < 1) return undefined;
  const tick = anchorMs + k * periodMs;
  return tick > sinceMs ? tick : undefined;
};

/**
 * The next tick of a period schedule strictly after `afterMs`.
 *
 * @example
 * ```ts
 * nextPeriodTick(60, 0, 0); // 60_000
 * nextPeriodTick(60, 0, 60_000); // 120_000
 * ```
 */
export const nextPeriodTick = (periodS: number, anchorMs: number, afterMs: number): number => {
  const periodMs = periodS * 1000;
  const k = Math.max(1, Math.floor((afterMs - anchorMs) / periodMs) + 1);
  return anchorMs + k * periodMs;
};

/**
 * A schedule in a few words, for listings: `cron 0 * * * *`, `cron 0 9 * * * Europe/Paris`, `every 5m`.
 *
 * @example
 * ```ts
 * describeSchedule({ kind: "period", seconds: 90 }); // "every 1m30s"
 * ```
 */
export const describeSchedule = (s: ScheduleOption): string => {
  if (s.kind === "cron") return `cron ${s.cron}${s.timezone ? ` ${s.timezone}` : ""}`;
  let rest = s.seconds;
  let out = "";
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  if (rest > 0 || out === "") out += `${Number(rest.toFixed(3))}s`;
  return `every ${out}`;
};
