import { Schema } from "effect";

// Hrana over HTTP, version 2, JSON encoding: the protocol `@libsql/client/web` speaks to sqld and
// Turso. Field names are the wire's (snake_case); only what crosses the wire is declared here.

/** A SQL value: integers travel as decimal strings (64-bit), blobs as base64. */
export type HranaValue =
  | { readonly type: "null" }
  | { readonly type: "integer"; readonly value: string }
  | { readonly type: "float"; readonly value: number }
  | { readonly type: "text"; readonly value: string }
  | { readonly type: "blob"; readonly base64: string };

export const HranaValue: Schema.Codec<HranaValue> = Schema.Union([
  Schema.Struct({ type: Schema.Literal("null") }),
  Schema.Struct({ type: Schema.Literal("integer"), value: Schema.String.check(Schema.isPattern(/^-?\d{1,19}$/)) }),
  Schema.Struct({ type: Schema.Literal("float"), value: Schema.Number }),
  Schema.Struct({ type: Schema.Literal("text"), value: Schema.String }),
  Schema.Struct({ type: Schema.Literal("blob"), base64: Schema.String }),
]);

/** One statement: its text, or the id of a text stored on the stream with `store_sql`. */
export const HranaStmt = Schema.Struct({
  sql: Schema.optional(Schema.NullOr(Schema.String)),
  sql_id: Schema.optional(Schema.NullOr(Schema.Int)),
  args: Schema.optional(Schema.Array(HranaValue)),
  named_args: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, value: HranaValue }))),
  want_rows: Schema.optional(Schema.Boolean),
});
export type HranaStmt = typeof HranaStmt.Type;

/** When a batch step runs, in terms of earlier steps' outcomes. */
export type HranaBatchCond =
  | { readonly type: "ok"; readonly step: number }
  | { readonly type: "error"; readonly step: number }
  | { readonly type: "not"; readonly cond: HranaBatchCond }
  | { readonly type: "and"; readonly conds: ReadonlyArray<HranaBatchCond> }
  | { readonly type: "or"; readonly conds: ReadonlyArray<HranaBatchCond> }
  | { readonly type: "is_autocommit" };

export const HranaBatchCond: Schema.Codec<HranaBatchCond> = Schema.Union([
  Schema.Struct({ type: Schema.Literals(["ok", "error"]), step: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)) }),
  Schema.Struct({ type: Schema.Literal("not"), cond: Schema.suspend((): Schema.Codec<HranaBatchCond> => HranaBatchCond) }),
  Schema.Struct({ type: Schema.Literals(["and", "or"]), conds: Schema.Array(Schema.suspend((): Schema.Codec<HranaBatchCond> => HranaBatchCond)) }),
  Schema.Struct({ type: Schema.Literal("is_autocommit") }),
]);

export const HranaBatchStep = Schema.Struct({
  condition: Schema.optional(Schema.NullOr(HranaBatchCond)),
  stmt: HranaStmt,
});
export type HranaBatchStep = typeof HranaBatchStep.Type;

/** One request of a pipeline; each gets one result, in order. */
export const HranaStreamRequest = Schema.Union([
  Schema.Struct({ type: Schema.Literal("close") }),
  Schema.Struct({ type: Schema.Literal("execute"), stmt: HranaStmt }),
  Schema.Struct({ type: Schema.Literal("batch"), batch: Schema.Struct({ steps: Schema.Array(HranaBatchStep) }) }),
  Schema.Struct({ type: Schema.Literals(["sequence", "describe"]), sql: Schema.optional(Schema.NullOr(Schema.String)), sql_id: Schema.optional(Schema.NullOr(Schema.Int)) }),
  Schema.Struct({ type: Schema.Literal("store_sql"), sql_id: Schema.Int, sql: Schema.String }),
  Schema.Struct({ type: Schema.Literal("close_sql"), sql_id: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("get_autocommit") }),
]);
export type HranaStreamRequest = typeof HranaStreamRequest.Type;

/** `POST /v2/pipeline`: continue the stream named by `baton` (a new one when absent) with `requests`. */
export const HranaPipelineRequest = Schema.Struct({
  baton: Schema.optional(Schema.NullOr(Schema.String)),
  requests: Schema.Array(HranaStreamRequest),
});
export type HranaPipelineRequest = typeof HranaPipelineRequest.Type;

/** An error as the protocol reports it; `code` is SQLite's (`SQLITE_CONSTRAINT`) or the server's. */
export interface HranaError {
  readonly message: string;
  readonly code: string;
}

export interface HranaCol {
  readonly name: string | null;
  readonly decltype: string | null;
}

export interface HranaStmtResult {
  readonly cols: ReadonlyArray<HranaCol>;
  readonly rows: ReadonlyArray<ReadonlyArray<HranaValue>>;
  readonly affected_row_count: number;
  readonly last_insert_rowid: string | null;
}

export interface HranaBatchResult {
  readonly step_results: ReadonlyArray<HranaStmtResult | null>;
  readonly step_errors: ReadonlyArray<HranaError | null>;
}

export type HranaStreamResponse =
  | { readonly type: "close" | "store_sql" | "close_sql" }
  | { readonly type: "execute"; readonly result: HranaStmtResult }
  | { readonly type: "batch"; readonly result: HranaBatchResult }
  | { readonly type: "get_autocommit"; readonly is_autocommit: boolean };

export type HranaStreamResult =
  | { readonly type: "ok"; readonly response: HranaStreamResponse }
  | { readonly type: "error"; readonly error: HranaError };

/** The answer to a pipeline: the stream's next baton (`null` once it is closed) and one result per request. */
export interface HranaPipelineResponse {
  readonly baton: string | null;
  readonly base_url: string | null;
  readonly results: ReadonlyArray<HranaStreamResult>;
}
