import { Hono } from "hono";
import { Schema } from "effect";
import { decodeAt, errorBody, ScheduleOption, statusOf } from "@ferry/core";
import { cronProblem, nextTicks } from "./schedule-ticks.ts";

/** Most schedules one request may ask about. */
const MAX_SCHEDULES_PER_REQUEST = 1_000;
/** Most next runs one schedule may ask for. */
const MAX_NEXT_RUNS = 10;

const NextRunsRequest = Schema.Struct({
  schedules: Schema.Array(Schema.Struct({
    /** Echoed back: the caller's name for this schedule (a field path, a function id). */
    key: Schema.String,
    schedule: ScheduleOption,
    /** The app's latest deploy, for period schedules; now when left out. */
    anchorMs: Schema.optional(Schema.Number),
  })).check(Schema.isMaxLength(MAX_SCHEDULES_PER_REQUEST)),
  count: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MAX_NEXT_RUNS }))),
});

/** One schedule's answer: its next run times (epoch ms), or why it cannot run. */
export type NextRunsResult = { readonly key: string; readonly nextRuns: ReadonlyArray<number> } | { readonly key: string; readonly problem: string };

/**
 * The region's schedule questions, under `/internal/schedules` (regions own the cron parser):
 * `POST /next-runs` checks schedules and answers their next run times. The edge asks it to
 * refuse a bad cron expression at deploy and to list the next runs of deployed functions.
 */
export const scheduleRoutes = () => new Hono()
  .post("/next-runs", async (c) => {
    const body = await c.req.json().catch(() => undefined);
    const decoded = decodeAt(NextRunsRequest, body, "body");
    if (decoded._tag === "Failure") return c.json(errorBody(decoded.failure), statusOf(decoded.failure));
    const now = Date.now();
    const count = decoded.success.count ?? 1;
    const results: NextRunsResult[] = decoded.success.schedules.map(({ key, schedule, anchorMs }) => {
      const problem = schedule.kind === "cron" ? cronProblem(schedule, now) : undefined;
      return problem !== undefined ? { key, problem } : { key, nextRuns: nextTicks(schedule, anchorMs ?? now, now, count) };
    });
    return c.json({ results });
  });
