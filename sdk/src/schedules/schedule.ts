import type { CronSchedule, PeriodSchedule } from "@ferry/core";

/** When a deployed function runs on its own: `Cron(…)` or `Period(…)`. */
export type Schedule = CronSchedule | PeriodSchedule;

/**
 * Run at the times a cron expression names: 5 fields (`minute hour day-of-month month
 * day-of-week`), or 6 with seconds first; UTC unless `timezone` (an IANA name). The platform
 * checks the expression at deploy (400 naming the field when it is invalid).
 *
 * @example
 * ```ts
 * export const hourly = app.function({ schedule: Cron("0 * * * *") }, async () => report());
 * export const morning = app.function({ schedule: Cron("0 9 * * 1-5", { timezone: "Europe/Paris" }) }, brief);
 * ```
 */
export const Cron = (expression: string, options: { readonly timezone?: string } = {}): CronSchedule =>
  ({ kind: "cron", cron: expression, ...(options.timezone !== undefined ? { timezone: options.timezone } : {}) });

/** The parts of a `Period`, added up. */
export interface PeriodOptions {
  readonly weeks?: number;
  readonly days?: number;
  readonly hours?: number;
  readonly minutes?: number;
  readonly seconds?: number;
}

const SECONDS = { weeks: 7 * 86_400, days: 86_400, hours: 3_600, minutes: 60, seconds: 1 } as const;

/**
 * Run every period, counted from the app's latest deploy (the first run one period after it).
 * At least 1 second (`minSchedulePeriodS`): a shorter or zero period is refused at deploy.
 *
 * @example
 * ```ts
 * export const poll = app.function({ schedule: Period({ minutes: 5 }) }, async () => check());
 * ```
 */
export const Period = (period: PeriodOptions): PeriodSchedule => {
  let seconds = 0;
  for (const [unit, size] of Object.entries(SECONDS) as Array<[keyof PeriodOptions, number]>) seconds += (period[unit] ?? 0) * size;
  return { kind: "period", seconds };
};
