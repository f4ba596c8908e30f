/**
 * One entry of the replicated state log: the write statements of one client call (an `execute`
 * or a `batch`), applied by every replica in log order, all or nothing. Arguments are encoded so
 * that every value libSQL takes survives JSON exactly (blobs as base64, big integers as text).
 */
import { Schema } from "effect";
import { decodeAt } from "@ferry/core";
import type { InArgs, InStatement, InValue } from "@libsql/client";

/** A statement argument on the wire. */
const WireValue = Schema.Union([
  Schema.Null, Schema.Number, Schema.String, Schema.Boolean,
  Schema.Struct({ blob: Schema.String }),
  Schema.Struct({ bigint: Schema.String }),
]);
type WireValue = typeof WireValue.Type;

const WireStatement = Schema.Struct({
  sql: Schema.String,
  args: Schema.Union([Schema.Array(WireValue), Schema.Record(Schema.String, WireValue)]),
});

/** The entry as it travels on the log. */
export const LogEntry = Schema.Struct({
  /** Unique per write: the publish's de-duplication id and how the writer finds its result. */
  id: Schema.String,
  /** The replica (region or edge) that wrote it. */
  origin: Schema.String,
  statements: Schema.Array(WireStatement),
});
export type LogEntry = typeof LogEntry.Type;

const encodeValue = (v: InValue): WireValue => {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return { bigint: v.toString() };
  if (v instanceof Date) return v.valueOf();
  if (v instanceof ArrayBuffer) return { blob: Buffer.from(v).toString("base64") };
  if (v instanceof Uint8Array) return { blob: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  return v;
};

const decodeValue = (v: WireValue): InValue => {
  if (v !== null && typeof v === "object") return "blob" in v ? new Uint8Array(Buffer.from(v.blob, "base64")) : BigInt(v.bigint);
  return v;
};

/** A statement in the form a log entry carries. */
export const encodeStatement = (stmt: InStatement): LogEntry["statements"][number] => {
  if (typeof stmt === "string") return { sql: stmt, args: [] };
  const args: InArgs = stmt.args ?? [];
  return {
    sql: stmt.sql,
    args: Array.isArray(args)
      ? args.map(encodeValue)
      : Object.fromEntries(Object.entries(args as Record<string, InValue>).map(([k, v]) => [k, encodeValue(v)])),
  };
};

/** Back to what `@libsql/client` executes. */
export const decodeStatement = (stmt: LogEntry["statements"][number]): InStatement => ({
  sql: stmt.sql,
  args: Array.isArray(stmt.args)
    ? (stmt.args as ReadonlyArray<WireValue>).map(decodeValue)
    : Object.fromEntries(Object.entries(stmt.args as Record<string, WireValue>).map(([k, v]) => [k, decodeValue(v)])),
});

/**
 * Parse an entry read from the log; an entry that does not parse is a bug in a writer, reported
 * with its sequence so the replica can skip it identically everywhere.
 *
 * @example
 * ```ts
 * const entry = parseLogEntry(new TextDecoder().decode(msg.data), msg.seq);
 * ```
 */
export const parseLogEntry = (text: string, seq: number): LogEntry | Error => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return new Error(`state log entry ${seq} is not JSON: ${String(e)}`);
  }
  const decoded = decodeAt(LogEntry, json, `entry ${seq}`);
  return decoded._tag === "Success" ? decoded.success : new Error(`state log ${decoded.failure.message}`);
};

/**
 * Whether a statement changes state (and so goes through the log); everything else is read
 * locally. A `WITH` is a write when it holds one of the writing keywords.
 *
 * @example
 * ```ts
 * isWriteStatement("SELECT * FROM apps"); // false
 * ```
 */
export const isWriteStatement = (stmt: InStatement): boolean => {
  const sql = (typeof stmt === "string" ? stmt : stmt.sql).replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, "");
  const first = /^[A-Za-z]+/.exec(sql)?.[0].toUpperCase() ?? "";
  if (first === "SELECT" || first === "EXPLAIN" || first === "VALUES") return false;
  if (first === "WITH") return /\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql);
  if (first === "PRAGMA") return /=/.test(sql);
  return true;
};
