import { retryDelayMs, type OutputItem, type QueuedInput, type ResolvedFunctionOptions } from "@ferry/core";

/** How one input attempt ended, before retry policy is applied. */
export type AttemptEnd =
  | { readonly kind: "ok"; readonly value: unknown }
  | { readonly kind: "error" | "timeout" | "crash"; readonly error: unknown };

/**
 * Apply the function's retry policy to a finished attempt: an output to publish, or the input
 * to queue again with its next attempt number and the time before which it must not run.
 *
 * @example
 * ```ts
 * decideAttempt(input, { kind: "error", error }, options, Date.now());
 * ```
 */
export const decideAttempt = (
  input: QueuedInput,
  end: AttemptEnd,
  options: Pick<ResolvedFunctionOptions, "retries">,
  now: number,
): { readonly output: OutputItem } | { readonly retry: QueuedInput } => {
  if (end.kind === "ok") return { output: { idx: input.idx, ok: true, value: end.value } };
  if (input.attempt < options.retries.maxRetries) {
    const next = input.attempt + 1;
    return { retry: { idx: input.idx, args: input.args, attempt: next, notBefore: now + retryDelayMs(options.retries, next) } };
  }
  return { output: { idx: input.idx, ok: false, kind: end.kind, error: end.error } };
};
