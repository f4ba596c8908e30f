import { Schema } from "effect";

/**
 * How a process started by `exec` ended. `code` follows the shell's convention: the process's
 * exit status, or 128+N when signal N killed it (137 for SIGKILL, an OOM kill included).
 */
export const ExecExit = Schema.Struct({
  code: Schema.Int,
  /** The signal that ended it (`"SIGKILL"`), when one did. */
  signal: Schema.optional(Schema.NullOr(Schema.String)),
  /** The kernel's OOM killer ended it: its sandbox went over its `memory`. */
  oomKilled: Schema.optional(Schema.Boolean),
  /** Why it ended, when not by itself: `sandbox terminated (timeout: …)`, `cannot run "x": not found`. */
  reason: Schema.optional(Schema.String),
});
export type ExecExit = typeof ExecExit.Type;

/**
 * One line of an exec's NDJSON stream (`POST /v1/sandboxes/:id/exec`, `/v1/containers/:id/exec`):
 * `started` first (stdin may be sent from then on), output as it comes, `exit` last; `ping`
 * lines keep an idle stream open.
 *
 * @example
 * ```ts
 * const event: ExecEvent = { type: "stdout", data: "hello\n" };
 * ```
 */
export const ExecEvent = Schema.Union([
  Schema.Struct({ type: Schema.Literal("started"), execId: Schema.String }),
  Schema.Struct({ type: Schema.Literals(["stdout", "stderr"]), data: Schema.String }),
  Schema.Struct({ type: Schema.Literal("exit"), exit: ExecExit }),
  Schema.Struct({ type: Schema.Literal("ping") }),
]);
export type ExecEvent = typeof ExecEvent.Type;

/** Exit code of a process killed by SIGKILL (128 + 9). */
export const SIGKILL_EXIT_CODE = 137;
/** Exit code of a command that could not be found or run, as shells report it. */
export const NOT_RUNNABLE_EXIT_CODE = 127;
