import type { InStatement, ResultSet, TransactionMode } from "@libsql/client";

/**
 * What the region's SQL-over-HTTP endpoint serves: the part of a libSQL `Client` that platform
 * storage uses. A `Client` from `@libsql/client` is one; so is the replicated client that applies
 * writes through the region's log. The endpoint sends a `bigint` as an integer and a `number` as a
 * float: an executor made with `intMode: "bigint"` keeps SQLite's types exact; one in the default
 * `"number"` mode sends integers as floats, which clients in that mode read as the same numbers.
 *
 * @example
 * ```ts
 * const executor: SqlExecutor = createClient({ url: "file:state.db", intMode: "bigint" });
 * app.route("/", sqlHttpRoutes({ executor, authToken: internalToken }));
 * ```
 */
export interface SqlExecutor {
  execute(stmt: InStatement): Promise<ResultSet>;
  /** All statements in one transaction (`mode` as in `BEGIN`): all apply, or none and it rejects. */
  batch(stmts: Array<InStatement>, mode?: TransactionMode): Promise<Array<ResultSet>>;
}
