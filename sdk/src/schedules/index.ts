export { Cron, Period, type PeriodOptions, type Schedule } from "./schedule.ts";
