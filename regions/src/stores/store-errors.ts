import { Effect } from "effect";
import { BusError, ConflictError, NotFoundError, PayloadTooLargeError, ValidationError, type ApiError } from "@ferry/core";

const TYPED = [ValidationError, NotFoundError, ConflictError, PayloadTooLargeError] as const;

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The stream behind a Dict or Queue does not exist (deleted, or never created). */
export const isMissingStream = (e: unknown): boolean => /stream not found|jetstream is not enabled|no responders/i.test(messageOf(e));
/** A stream with `discard: new` refused a message at its `max_msgs`. */
export const isStreamFull = (e: unknown): boolean => /maximum messages exceeded/i.test(messageOf(e));

/**
 * Run a store operation as a traced span: the typed API errors it throws stay typed, anything
 * else (NATS down, a bug) becomes a `BusError` naming the operation.
 *
 * @example
 * ```ts
 * const get = (key: string) => attempt("DictStore.get", async () => read(key));
 * ```
 */
export const attempt = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, ApiError> =>
  Effect.tryPromise({
    try: f,
    catch: (e) => (TYPED.some((T) => e instanceof T) ? e as ApiError : new BusError({ operation, cause: e })),
  }).pipe(Effect.withSpan(operation));
