import type { InArgs, InValue } from "@libsql/client";
import { runHranaBatch, isTransactionControl, notSupportedTransaction, type ResolvedStep } from "./hrana-batch.ts";
import { HranaErrorCodes, hranaErrorOf } from "./hrana-errors.ts";
import type { HranaError, HranaStmt, HranaStreamRequest, HranaStreamResult } from "./hrana-messages.ts";
import type { SqlExecutor } from "./sql-executor.ts";
import { hranaToArg, resultToHrana } from "./hrana-values.ts";

const fail = (error: HranaError): HranaStreamResult => ({ type: "error", error });
const ok = (response: Extract<HranaStreamResult, { type: "ok" }>["response"]): HranaStreamResult => ({ type: "ok", response });

/** Named arguments reach the executor without their sigil (`:id`, `@id` and `$id` all bind `id`). */
const bareName = (name: string): string => name.replace(/^[:@$]/, "");

/**
 * One Hrana stream: what the client stored on it (`store_sql`) and whether it is closed. Holds
 * no connection and no transaction (every statement or batch runs whole on the executor), so a
 * stream is cheap to keep between requests under a baton.
 *
 * @example
 * ```ts
 * const stream = new HranaStream(executor, Limits.maxSqlStoredPerStream);
 * const result = await stream.run({ type: "execute", stmt: { sql: "SELECT 1", want_rows: true } });
 * ```
 */
export class HranaStream {
  readonly #executor: SqlExecutor;
  readonly #maxStoredSql: number;
  readonly #storedSql = new Map<number, string>();
  #closed = false;
  /** When the stream last served a request (for idle expiry). */
  lastUsedMs: number;

  constructor(executor: SqlExecutor, maxStoredSql: number, nowMs = Date.now()) {
    this.#executor = executor;
    this.#maxStoredSql = maxStoredSql;
    this.lastUsedMs = nowMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Serve one request of a pipeline. */
  async run(req: HranaStreamRequest): Promise<HranaStreamResult> {
    if (this.#closed) return fail({ code: HranaErrorCodes.protocol, message: `request ${req.type} after the stream was closed in this pipeline` });
    switch (req.type) {
      case "close":
        this.#closed = true;
        return ok({ type: "close" });
      case "store_sql":
        if (!this.#storedSql.has(req.sql_id) && this.#storedSql.size >= this.#maxStoredSql) {
          return fail({ code: HranaErrorCodes.tooManySql, message: `a stream stores at most ${this.#maxStoredSql} SQL texts (maxSqlStoredPerStream); close_sql some first` });
        }
        this.#storedSql.set(req.sql_id, req.sql);
        return ok({ type: "store_sql" });
      case "close_sql":
        this.#storedSql.delete(req.sql_id);
        return ok({ type: "close_sql" });
      case "get_autocommit":
        return ok({ type: "get_autocommit", is_autocommit: true });
      case "execute": {
        const stmt = this.#resolve(req.stmt);
        if ("code" in stmt) return fail(stmt);
        if (isTransactionControl(stmt.stmt.sql)) return fail(notSupportedTransaction(stmt.stmt.sql));
        try {
          return ok({ type: "execute", result: resultToHrana(await this.#executor.execute(stmt.stmt), stmt.wantRows) });
        } catch (e) {
          return fail(hranaErrorOf(e));
        }
      }
      case "batch": {
        const steps: ResolvedStep[] = [];
        for (const step of req.batch.steps) {
          const stmt = this.#resolve(step.stmt);
          if ("code" in stmt) return fail(stmt);
          steps.push({ condition: step.condition ?? null, ...stmt });
        }
        return ok({ type: "batch", result: await runHranaBatch(this.#executor, steps) });
      }
      case "sequence":
      case "describe":
        return fail({ code: HranaErrorCodes.notSupported, message: `${req.type} is not served by this endpoint; use execute or batch` });
    }
  }

  #resolve(stmt: HranaStmt): Omit<ResolvedStep, "condition"> | HranaError {
    const hasSql = stmt.sql !== undefined && stmt.sql !== null;
    const hasId = stmt.sql_id !== undefined && stmt.sql_id !== null;
    if (hasSql === hasId) return { code: HranaErrorCodes.protocol, message: "a statement needs exactly one of sql and sql_id" };
    const sql = hasSql ? stmt.sql! : this.#storedSql.get(stmt.sql_id!);
    if (sql === undefined) return { code: HranaErrorCodes.sqlNotFound, message: `sql_id ${stmt.sql_id} is not stored on this stream (store_sql first)` };
    const positional = stmt.args ?? [];
    const named = stmt.named_args ?? [];
    if (positional.length > 0 && named.length > 0) return { code: HranaErrorCodes.notSupported, message: "a statement takes positional or named arguments, not both" };
    const args: InArgs = named.length > 0
      ? Object.fromEntries(named.map((a): [string, InValue] => [bareName(a.name), hranaToArg(a.value)]))
      : positional.map(hranaToArg);
    return { stmt: { sql, args }, wantRows: stmt.want_rows ?? true };
  }
}
