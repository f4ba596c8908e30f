import type { Client } from "@libsql/client";
import { Schema } from "effect";
import { ScheduleOption } from "@ferry/core";

/** A function that runs on a schedule, as the scheduler sees it. */
export interface ScheduledFunction {
  readonly functionId: string;
  readonly appId: string;
  readonly appName: string;
  readonly functionName: string;
  readonly schedule: ScheduleOption;
  /** The app's latest deploy: period ticks count from here, and no tick before it runs. */
  readonly anchorMs: number;
  /** The function's `region` option: where it may run (anywhere when empty). */
  readonly regions: ReadonlyArray<string>;
}

const decodeSchedule = Schema.decodeUnknownResult(ScheduleOption);

/**
 * Every scheduled function of a running deployed app (ephemeral and stopped apps are never
 * scheduled). Rows whose schedule does not decode are skipped: the edge checked them at deploy.
 *
 * @example
 * ```ts
 * const due = (await listScheduledFunctions(client)).filter((f) => f.regions.length === 0 || f.regions.includes("us-east"));
 * ```
 */
export const listScheduledFunctions = async (client: Client): Promise<ScheduledFunction[]> => {
  const rs = await client.execute(`SELECT f.id, f.name, f.options, a.id AS app_id, a.name AS app_name, a.updated_at
    FROM functions f JOIN apps a ON a.id = f.app_id
    WHERE a.state = 'running' AND a.mode = 'deployed' AND f.removed_at IS NULL AND json_extract(f.options, '$.schedule') IS NOT NULL`);
  const out: ScheduledFunction[] = [];
  for (const r of rs.rows) {
    const options = JSON.parse(String(r.options)) as { schedule?: unknown; region?: string | ReadonlyArray<string> };
    const schedule = decodeSchedule(options.schedule);
    if (schedule._tag === "Failure") continue;
    out.push({
      functionId: String(r.id), appId: String(r.app_id), appName: String(r.app_name), functionName: String(r.name),
      schedule: schedule.success, anchorMs: Number(r.updated_at),
      regions: options.region === undefined ? [] : typeof options.region === "string" ? [options.region] : options.region,
    });
  }
  return out;
};
