import type { Client } from "@libsql/client";

/** A tick some region server is about to run: the claim is its row in `schedule_runs`. */
export interface TickClaim {
  readonly functionId: string;
  readonly tickMs: number;
  /** The call the tick runs as. */
  readonly callId: string;
  readonly region: string;
}

/**
 * Claim one tick of a scheduled function for this region server: an INSERT on the primary key
 * (function, tick), so exactly one claimer in the whole platform wins it, whichever region or
 * server saw it first. Resolves `true` when this one won and must run the tick.
 *
 * @example
 * ```ts
 * if (await claimTick(client, { functionId, tickMs, callId, region })) await enqueue();
 * ```
 */
export const claimTick = async (client: Client, claim: TickClaim, nowMs = Date.now()): Promise<boolean> => {
  const rs = await client.execute({
    sql: `INSERT INTO schedule_runs (function_id, tick_ms, call_id, region, claimed_at) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (function_id, tick_ms) DO NOTHING`,
    args: [claim.functionId, claim.tickMs, claim.callId, claim.region, nowMs],
  });
  return rs.rowsAffected === 1;
};

/** Give a claimed tick up (its run could not be enqueued), so another look may run it. */
export const releaseTick = async (client: Client, claim: TickClaim): Promise<void> => {
  await client.execute({ sql: "DELETE FROM schedule_runs WHERE function_id = ? AND tick_ms = ? AND call_id = ?", args: [claim.functionId, claim.tickMs, claim.callId] });
};

/** The ticks of a function that ran (were claimed) at or after `sinceMs`, oldest first. */
export const listTickRuns = async (client: Client, functionId: string, sinceMs = 0): Promise<Array<{ tickMs: number; callId: string; region: string }>> => {
  const rs = await client.execute({
    sql: "SELECT tick_ms, call_id, region FROM schedule_runs WHERE function_id = ? AND tick_ms >= ? ORDER BY tick_ms",
    args: [functionId, sinceMs],
  });
  return rs.rows.map((r) => ({ tickMs: Number(r.tick_ms), callId: String(r.call_id), region: String(r.region) }));
};

/** Forget claims older than `beforeMs` (their ticks can no longer be due). */
export const pruneTickRuns = async (client: Client, beforeMs: number): Promise<void> => {
  await client.execute({ sql: "DELETE FROM schedule_runs WHERE claimed_at < ?", args: [beforeMs] });
};
