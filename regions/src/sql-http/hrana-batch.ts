import type { InArgs, TransactionMode } from "@libsql/client";
import { HranaErrorCodes, hranaErrorOf } from "./hrana-errors.ts";
import type { HranaBatchCond, HranaBatchResult, HranaError, HranaStmtResult } from "./hrana-messages.ts";
import type { SqlExecutor } from "./sql-executor.ts";
import { EMPTY_RESULT, resultToHrana } from "./hrana-values.ts";

/** A batch step whose statement text and arguments are resolved (stored SQL looked up). */
export interface ResolvedStep {
  readonly condition: HranaBatchCond | null;
  readonly stmt: { readonly sql: string; readonly args: InArgs };
  readonly wantRows: boolean;
}

const BEGIN = /^\s*BEGIN(?:\s+(DEFERRED|IMMEDIATE|EXCLUSIVE|TRANSACTION\s+READONLY))?(?:\s+TRANSACTION)?\s*;?\s*$/i;
const COMMIT = /^\s*(?:COMMIT|END)(?:\s+TRANSACTION)?\s*;?\s*$/i;
const ROLLBACK = /^\s*ROLLBACK(?:\s+TRANSACTION)?\s*;?\s*$/i;
const TRANSACTION_CONTROL = /^\s*(?:BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;

/**
 * Whether a statement opens, ends or nests a transaction. The executor is shared by every stream
 * (a connection pool, or the replicated log), so a stream may not hold a transaction open; a
 * batch gets one through `SqlExecutor.batch` instead.
 *
 * @example
 * ```ts
 * isTransactionControl("begin immediate"); // true
 * ```
 */
export const isTransactionControl = (sql: string): boolean => TRANSACTION_CONTROL.test(sql);

/** The error for a statement that would hold a transaction open on the shared executor. */
export const notSupportedTransaction = (sql: string): HranaError => ({
  code: HranaErrorCodes.notSupported,
  message: `${JSON.stringify(sql.trim().slice(0, 40))}: this endpoint holds no transaction open between statements; send the statements as one batch (client.batch) instead`,
});

const sameCond = (a: HranaBatchCond | null, b: HranaBatchCond): boolean => JSON.stringify(a) === JSON.stringify(b);
const noArgs = (s: ResolvedStep): boolean => {
  const args = s.stmt.args;
  return Array.isArray(args) ? args.length === 0 : Object.keys(args).length === 0;
};

const modeOf = (begin: string): TransactionMode => {
  const m = BEGIN.exec(begin)?.[1]?.toUpperCase().replace(/\s+/g, " ");
  return m === "IMMEDIATE" || m === "EXCLUSIVE" ? "write" : m === "TRANSACTION READONLY" ? "read" : "deferred";
};

/**
 * The statements and mode of a batch `@libsql/client` sends for `client.batch(stmts, mode)`:
 * `BEGIN`, each statement if the one before succeeded, `COMMIT` if the last did, `ROLLBACK` if
 * the commit did not run or failed. `undefined` for any other shape.
 *
 * @example
 * ```ts
 * transactionOf(steps); // { mode: "write", stmts: steps.slice(1, -2) }
 * ```
 */
export const transactionOf = (steps: ReadonlyArray<ResolvedStep>): { readonly mode: TransactionMode; readonly stmts: ReadonlyArray<ResolvedStep> } | undefined => {
  const n = steps.length - 3;
  if (n < 0) return undefined;
  const [begin, commit, rollback] = [steps[0], steps[n + 1], steps[n + 2]];
  if (begin.condition !== null || !BEGIN.test(begin.stmt.sql) || !noArgs(begin)) return undefined;
  if (!COMMIT.test(commit.stmt.sql) || !noArgs(commit) || !sameCond(commit.condition, { type: "ok", step: n })) return undefined;
  if (!ROLLBACK.test(rollback.stmt.sql) || !noArgs(rollback) || !sameCond(rollback.condition, { type: "not", cond: { type: "ok", step: n + 1 } })) return undefined;
  const stmts = steps.slice(1, n + 1);
  for (const [i, s] of stmts.entries()) {
    if (!sameCond(s.condition, { type: "ok", step: i }) || isTransactionControl(s.stmt.sql)) return undefined;
  }
  return { mode: modeOf(begin.stmt.sql), stmts };
};

/** A client batch as one `SqlExecutor.batch`; on failure, the failed statement's step carries the error and `ROLLBACK` ran. */
const runTransaction = async (executor: SqlExecutor, mode: TransactionMode, stmts: ReadonlyArray<ResolvedStep>): Promise<HranaBatchResult> => {
  const n = stmts.length;
  try {
    const results = await executor.batch(stmts.map((s) => s.stmt), mode);
    return {
      step_results: [EMPTY_RESULT, ...results.map((rs, i) => resultToHrana(rs, stmts[i].wantRows)), EMPTY_RESULT, null],
      step_errors: new Array(n + 3).fill(null),
    };
  } catch (e) {
    const at = typeof e === "object" && e !== null && "statementIndex" in e && typeof e.statementIndex === "number" && e.statementIndex >= 0 && e.statementIndex < n
      ? e.statementIndex + 1
      : 0; // no index: report it on BEGIN, so the client rejects the whole batch
    const results: Array<HranaStmtResult | null> = new Array(n + 3).fill(null);
    const errors: Array<HranaError | null> = new Array(n + 3).fill(null);
    for (let i = 0; i < at; i++) results[i] = EMPTY_RESULT;
    errors[at] = hranaErrorOf(e);
    results[n + 2] = EMPTY_RESULT;
    return { step_results: results, step_errors: errors };
  }
};

const holds = (cond: HranaBatchCond, results: ReadonlyArray<HranaStmtResult | null>, errors: ReadonlyArray<HranaError | null>): boolean => {
  switch (cond.type) {
    case "ok": return results[cond.step] != null;
    case "error": return errors[cond.step] != null;
    case "not": return !holds(cond.cond, results, errors);
    case "and": return cond.conds.every((c) => holds(c, results, errors));
    case "or": return cond.conds.some((c) => holds(c, results, errors));
    // No transaction outlives a statement here.
    case "is_autocommit": return true;
  }
};

/**
 * Run a Hrana batch against the executor: a client transaction batch as one `SqlExecutor.batch`
 * (atomic); any other batch step by step, each statement on its own, conditions evaluated on the
 * steps run so far.
 *
 * @example
 * ```ts
 * const result = await runHranaBatch(executor, steps);
 * result.step_errors.some((e) => e !== null);
 * ```
 */
export const runHranaBatch = async (executor: SqlExecutor, steps: ReadonlyArray<ResolvedStep>): Promise<HranaBatchResult> => {
  const tx = transactionOf(steps);
  if (tx) return runTransaction(executor, tx.mode, tx.stmts);
  const results: Array<HranaStmtResult | null> = [];
  const errors: Array<HranaError | null> = [];
  for (const step of steps) {
    if (step.condition !== null && !holds(step.condition, results, errors)) {
      results.push(null);
      errors.push(null);
    } else if (isTransactionControl(step.stmt.sql)) {
      results.push(null);
      errors.push(notSupportedTransaction(step.stmt.sql));
    } else {
      try {
        results.push(resultToHrana(await executor.execute(step.stmt), step.wantRows));
        errors.push(null);
      } catch (e) {
        results.push(null);
        errors.push(hranaErrorOf(e));
      }
    }
  }
  return { step_results: results, step_errors: errors };
};
