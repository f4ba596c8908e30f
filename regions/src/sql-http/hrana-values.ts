import type { InValue, ResultSet, Value } from "@libsql/client";
import type { HranaStmtResult, HranaValue } from "./hrana-messages.ts";

/**
 * A wire value as an argument for the executor: integers become `bigint` (64-bit exact), blobs
 * bytes. (Regions run on Node, so base64 goes through `Buffer`, fast for multi-MiB bundles.)
 *
 * @example
 * ```ts
 * hranaToArg({ type: "integer", value: "42" }); // 42n
 * ```
 */
export const hranaToArg = (v: HranaValue): InValue => {
  switch (v.type) {
    case "null": return null;
    case "integer": return BigInt(v.value);
    case "float": return v.value;
    case "text": return v.value;
    case "blob": return new Uint8Array(Buffer.from(v.base64, "base64"));
  }
};

/**
 * A value the executor returned, as a wire value: `bigint` is an integer, `number` a float.
 *
 * @example
 * ```ts
 * valueToHrana(7n); // { type: "integer", value: "7" }
 * ```
 */
export const valueToHrana = (v: Value | Uint8Array | undefined): HranaValue => {
  if (v === null || v === undefined) return { type: "null" };
  if (typeof v === "bigint") return { type: "integer", value: v.toString() };
  if (typeof v === "number") return { type: "float", value: v };
  if (typeof v === "string") return { type: "text", value: v };
  return { type: "blob", base64: Buffer.from(v instanceof Uint8Array ? v : new Uint8Array(v)).toString("base64") };
};

/**
 * An executor's result set as a statement result; rows are left out when the client did not
 * want them.
 *
 * @example
 * ```ts
 * resultToHrana(await executor.execute("SELECT 1"), true).rows; // [[{ type: "integer", value: "1" }]]
 * ```
 */
export const resultToHrana = (rs: ResultSet, wantRows: boolean): HranaStmtResult => ({
  cols: rs.columns.map((name, i) => ({ name, decltype: rs.columnTypes[i] || null })),
  rows: wantRows ? rs.rows.map((row) => rs.columns.map((_, i) => valueToHrana(row[i]))) : [],
  affected_row_count: rs.rowsAffected,
  last_insert_rowid: rs.lastInsertRowid === undefined ? null : rs.lastInsertRowid.toString(),
});

/** The result of a statement that returned nothing (`BEGIN`, `COMMIT`). */
export const EMPTY_RESULT: HranaStmtResult = { cols: [], rows: [], affected_row_count: 0, last_insert_rowid: null };
