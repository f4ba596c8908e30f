import type { HranaError } from "./hrana-messages.ts";

/** Codes this endpoint answers with besides SQLite's own (`SQLITE_*`). */
export const HranaErrorCodes = {
  /** The body or a request is not valid Hrana (v2, JSON). */
  protocol: "HRANA_PROTO_ERROR",
  /** Missing or wrong bearer token. */
  unauthorized: "UNAUTHORIZED",
  /** The baton names no open stream (never issued, already used, or idle past `sqlStreamIdleMs`). */
  streamExpired: "STREAM_EXPIRED",
  /** `maxSqlStreams` streams are open already. */
  tooManyStreams: "TOO_MANY_STREAMS",
  /** `maxSqlStoredPerStream` SQL texts are stored on the stream already. */
  tooManySql: "TOO_MANY_STORED_SQL",
  /** The statement names a `sql_id` the stream has not stored. */
  sqlNotFound: "SQL_NOT_FOUND",
  /** A request or statement this endpoint does not serve (interactive transactions, `describe`, `sequence`). */
  notSupported: "NOT_SUPPORTED",
  /** The body is over `maxSqlPipelineBodyBytes`. */
  tooLarge: "PAYLOAD_TOO_LARGE",
  /** The executor failed without a SQLite code (e.g. the replicated log is unreachable). */
  unknown: "SERVER_ERROR",
} as const;

const PREFIXED = /^(SQLITE_[A-Z_]+|[A-Z_]+_ERROR): /;

/**
 * An executor's failure as the protocol reports it: SQLite's code, and its message without the
 * `CODE: ` prefixes `@libsql/client` adds (the remote client adds its own).
 *
 * @example
 * ```ts
 * hranaErrorOf(e); // { code: "SQLITE_CONSTRAINT", message: "UNIQUE constraint failed: t.id" }
 * ```
 */
export const hranaErrorOf = (e: unknown): HranaError => {
  const code = typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : HranaErrorCodes.unknown;
  let message = e instanceof Error ? e.message : String(e);
  while (PREFIXED.test(message)) message = message.replace(PREFIXED, "");
  return { code, message };
};
