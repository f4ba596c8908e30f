import { Effect, Schema } from "effect";
import {
  describeSchedule, nextPeriodTick, UnavailableError, ValidationError,
  type AppRow, type CronSchedule, type DeployRequest, type FunctionRow, type ScheduleOption,
} from "@ferry/core";
import type { RegionClient } from "../regions/region-client.ts";

/** The next run of one scheduled function, as `GET /v1/apps` lists it (`at` in epoch ms). */
export interface NextRun { readonly function: string; readonly schedule: string; readonly at: number }

const NextRunsAnswer = Schema.Struct({
  results: Schema.Array(Schema.Union([
    Schema.Struct({ key: Schema.String, nextRuns: Schema.Array(Schema.Number) }),
    Schema.Struct({ key: Schema.String, problem: Schema.String }),
  ])),
});
type NextRunsAnswer = typeof NextRunsAnswer.Type;

/** Ask a region (regions own the cron parser) about cron schedules, keyed by the caller. */
const askRegion = (regions: RegionClient, crons: ReadonlyArray<{ key: string; schedule: CronSchedule }>): Effect.Effect<NextRunsAnswer["results"], UnavailableError> =>
  Effect.gen(function*() {
    if (crons.length === 0) return [];
    const region = yield* regions.pick([]);
    const res = yield* regions.request(region, "/internal/schedules/next-runs", { method: "POST", body: JSON.stringify({ schedules: crons }) });
    const body = yield* Effect.tryPromise({ try: () => res.json(), catch: () => new UnavailableError({ message: `region ${region.name} answered schedules with ${res.status}` }) });
    const answer = Schema.decodeUnknownResult(NextRunsAnswer)(body);
    if (answer._tag === "Failure") return yield* new UnavailableError({ message: `region ${region.name} answered schedules with ${res.status}` });
    return answer.success.results;
  });

/**
 * Refuse, before anything is stored, a deploy whose schedules cannot run: a schedule on a class
 * (which method would run?) or a cron expression a region cannot parse (or that names no future
 * time); the 400 names the field. Period bounds are checked by the manifest schema.
 *
 * @example
 * ```ts
 * yield* checkSchedules(req, regions);
 * ```
 */
export const checkSchedules = (req: DeployRequest, regions: RegionClient): Effect.Effect<void, ValidationError | UnavailableError> =>
  Effect.gen(function*() {
    const crons: Array<{ key: string; schedule: CronSchedule }> = [];
    for (const [i, f] of req.functions.entries()) {
      const s = f.options.schedule;
      if (!s) continue;
      const field = `body.functions[${i}].options.schedule`;
      if (f.options.methods) return yield* new ValidationError({ field, message: `${field}: ${f.name} is a class; a schedule runs a function: schedule an app.function that calls its method` });
      if (s.kind === "cron") crons.push({ key: `${field}.cron`, schedule: s });
    }
    const results = yield* askRegion(regions, crons).pipe(Effect.mapError((e) => new UnavailableError({ message: `cannot check the cron schedules of this deploy: ${e.message}` })));
    for (const r of results) if ("problem" in r) return yield* new ValidationError({ field: r.key, message: `${r.key}: ${r.problem}` });
  });

/**
 * The next run of every scheduled function of running deployed apps (ephemeral and stopped apps
 * are not scheduled). Period runs count from the app's latest deploy; cron runs come from a
 * region, and are left out while no region is up.
 */
export const nextRunsOf = (apps: ReadonlyArray<{ readonly app: AppRow; readonly functions: ReadonlyArray<FunctionRow> }>, regions: RegionClient, now = Date.now()): Effect.Effect<ReadonlyMap<string, ReadonlyArray<NextRun>>> =>
  Effect.gen(function*() {
    const out = new Map<string, NextRun[]>();
    const crons: Array<{ key: string; schedule: CronSchedule; appId: string; name: string }> = [];
    for (const { app, functions } of apps) {
      if (app.state !== "running" || app.mode !== "deployed") continue;
      for (const f of functions) {
        const s = f.options.schedule as ScheduleOption | undefined;
        if (!s) continue;
        if (s.kind === "period") push(out, app.id, { function: f.name, schedule: describeSchedule(s), at: nextPeriodTick(s.seconds, app.updatedAt, now) });
        else crons.push({ key: f.id, schedule: s, appId: app.id, name: f.name });
      }
    }
    const results = yield* askRegion(regions, crons.map(({ key, schedule }) => ({ key, schedule }))).pipe(Effect.orElseSucceed(() => []));
    for (const r of results) {
      const c = crons.find((x) => x.key === r.key);
      if (c && "nextRuns" in r && r.nextRuns[0] !== undefined) push(out, c.appId, { function: c.name, schedule: describeSchedule(c.schedule), at: r.nextRuns[0] });
    }
    for (const runs of out.values()) runs.sort((a, b) => a.at - b.at);
    return out;
  });

const push = (m: Map<string, NextRun[]>, k: string, v: NextRun) => {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
};
