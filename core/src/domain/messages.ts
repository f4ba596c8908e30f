import { Schema } from "effect";

/** One input as it sits in a function's queue. `attempt` counts from 0. */
export const QueuedInput = Schema.Struct({
  idx: Schema.Int,
  args: Schema.Unknown,
  attempt: Schema.Int,
  /** Epoch ms before which a retry must not run (the consumer naks it back until then). */
  notBefore: Schema.optional(Schema.Number),
});
export type QueuedInput = typeof QueuedInput.Type;

/** A queue message: a batch of inputs of one call (a `.map` batch, or one `.remote`). */
export const InputBatch = Schema.Struct({
  callId: Schema.String,
  functionId: Schema.String,
  appId: Schema.String,
  inputs: Schema.Array(QueuedInput),
});
export type InputBatch = typeof InputBatch.Type;

/** One finished input: its value, or the error that ended its last attempt. */
export const OutputItem = Schema.Union([
  Schema.Struct({ idx: Schema.Int, ok: Schema.Literal(true), value: Schema.Unknown }),
  Schema.Struct({
    idx: Schema.Int,
    ok: Schema.Literal(false),
    /** `error`: user code threw; `timeout`: it outran `timeout`; `crash`: its container died. */
    kind: Schema.Literals(["error", "timeout", "crash"]),
    error: Schema.Unknown,
  }),
]);
export type OutputItem = typeof OutputItem.Type;

/**
 * What is published on a call's output subject: outputs as they finish, `closed` once all of
 * the call's inputs are known, `cancelled` when the call is cancelled. A reader is done when it
 * holds `total` distinct outputs, or sees `cancelled`.
 */
export const CallEvent = Schema.Union([
  Schema.Struct({ type: Schema.Literal("outputs"), outputs: Schema.Array(OutputItem) }),
  Schema.Struct({ type: Schema.Literal("closed"), total: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("cancelled") }),
]);
export type CallEvent = typeof CallEvent.Type;

/** One line a container wrote, tagged with where it came from. */
export const LogLine = Schema.Struct({
  ts: Schema.Number,
  appId: Schema.String,
  functionName: Schema.String,
  containerId: Schema.String,
  inputId: Schema.optional(Schema.String),
  stream: Schema.Literals(["stdout", "stderr", "system"]),
  line: Schema.String,
});
export type LogLine = typeof LogLine.Type;
