import type { Client } from "@libsql/client";
import { Context, Effect, Layer } from "effect";
import { StorageError } from "../errors/errors.ts";
import { newId } from "../ids/ids.ts";
import { Storage } from "../storage/storage.ts";

/** One metered interval of one container: whole seconds of its life, its resources and price. */
export interface UsageRecord {
  readonly workspaceId: string;
  readonly appId: string;
  readonly appName: string;
  readonly functionId: string;
  readonly functionName: string;
  readonly containerId: string;
  readonly agentId: string;
  readonly region: string;
  readonly cloud: string;
  /** Empty on CPU containers. */
  readonly gpuType: string;
  readonly gpuCount: number;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly startMs: number;
  readonly endMs: number;
  /** USD per second the container was charged in this interval (its share of its node's price). */
  readonly pricePerSecond: number;
}

/** What `ferry usage` groups by. */
export const UsageGroupKeys = ["app", "function", "gpu", "cloud", "region"] as const;
export type UsageGroupKey = (typeof UsageGroupKeys)[number];

/** One line of a usage summary: the group's keys and its totals. */
export interface UsageLine {
  readonly keys: Partial<Record<UsageGroupKey, string>>;
  readonly containerSeconds: number;
  readonly gpuSeconds: number;
  readonly costUsd: number;
}

const COLUMN: Record<UsageGroupKey, string> = {
  app: "app_name",
  function: "app_name || '.' || function_name",
  gpu: "CASE gpu_type WHEN '' THEN 'cpu' ELSE gpu_type END",
  cloud: "cloud",
  region: "region",
};

/**
 * Per-second metering in libSQL: the region appends intervals as containers live, `ferry usage`
 * reads them summed by app, function, GPU type, cloud or region.
 *
 * @example
 * ```ts
 * const usage = yield* UsageStore;
 * yield* usage.summary(workspaceId, Date.now() - 7 * 86_400_000, ["app", "gpu"]);
 * ```
 */
export class UsageStore extends Context.Service<UsageStore, {
  record(records: ReadonlyArray<UsageRecord>): Effect.Effect<void, StorageError>;
  summary(workspaceId: string, sinceMs: number, groupBy: ReadonlyArray<UsageGroupKey>): Effect.Effect<ReadonlyArray<UsageLine>, StorageError>;
}>()("ferry/core/metering/UsageStore") {
  /** Over the platform's Storage (whose migrations create the usage table). */
  static readonly layer = Layer.effect(UsageStore, Effect.map(Storage, (s) => makeUsageStore(s.client)));
  /** Over a Storage already opened (its migrations have run). */
  static fromStorage(storage: Storage["Service"]): UsageStore["Service"] {
    return makeUsageStore(storage.client);
  }
}

/** Largest `since` window `ferry usage` accepts. */
export const MAX_USAGE_WINDOW_MS = 400 * 86_400_000;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * The start of a usage window: `"7d"`, `"12h"`, `"30m"`, or an ISO date; `undefined` when it is
 * neither or reaches further back than `MAX_USAGE_WINDOW_MS`.
 *
 * @example
 * ```ts
 * parseSince("7d", Date.now()); // 7 days ago, in ms
 * ```
 */
export const parseSince = (since: string, now: number): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(since.trim());
  const start = m ? now - Number(m[1]) * (UNIT_MS[m[2] ?? "d"] ?? 0) : /^\d{4}-\d{2}-\d{2}/.test(since) ? Date.parse(since) : NaN;
  return Number.isFinite(start) && now - start <= MAX_USAGE_WINDOW_MS && start <= now ? start : undefined;
};

const makeUsageStore = (client: Client): UsageStore["Service"] => {
  const attempt = <A>(operation: string, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (cause) => new StorageError({ operation, cause }) });
  return {
    record: Effect.fn("UsageStore.record")(function*(records: ReadonlyArray<UsageRecord>) {
      if (records.length === 0) return;
      yield* attempt("record usage", () => client.batch(records.map((r) => ({
        sql: `INSERT INTO usage (id, workspace_id, app_id, app_name, function_id, function_name, container_id, agent_id, region, cloud,
          gpu_type, gpu_count, cpu, memory_mib, start_ms, end_ms, price_per_second, cost_usd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        args: [newId("us", 16), r.workspaceId, r.appId, r.appName, r.functionId, r.functionName, r.containerId, r.agentId, r.region, r.cloud,
          r.gpuType, r.gpuCount, r.cpu, r.memoryMiB, r.startMs, r.endMs, r.pricePerSecond, (r.pricePerSecond * (r.endMs - r.startMs)) / 1000],
      })), "write"));
    }),
    summary: Effect.fn("UsageStore.summary")(function*(workspaceId: string, sinceMs: number, groupBy: ReadonlyArray<UsageGroupKey>) {
      const keys = [...new Set(groupBy)];
      const select = keys.map((k) => `${COLUMN[k]} AS k_${k}`);
      const sql = `SELECT ${[...select, "SUM(end_ms - start_ms) / 1000.0 AS seconds", "SUM((end_ms - start_ms) * gpu_count) / 1000.0 AS gpu_seconds", "SUM(cost_usd) AS cost"].join(", ")}
        FROM usage WHERE workspace_id = ? AND end_ms > ?${keys.length > 0 ? ` GROUP BY ${keys.map((k) => `k_${k}`).join(", ")}` : ""}
        ORDER BY cost DESC, seconds DESC`;
      const rs = yield* attempt("read usage", () => client.execute({ sql, args: [workspaceId, sinceMs] }));
      return rs.rows.filter((r) => r.seconds !== null).map((r): UsageLine => ({
        keys: Object.fromEntries(keys.map((k) => [k, String(r[`k_${k}`])])),
        containerSeconds: Number(r.seconds),
        gpuSeconds: Number(r.gpu_seconds),
        costUsd: Number(r.cost),
      }));
    }),
  };
};
