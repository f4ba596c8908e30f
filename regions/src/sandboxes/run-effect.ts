import { Effect, Result } from "effect";

/**
 * Run an effect as a promise that rejects with its typed failure itself (not a wrapper), so
 * region code can `catch` the API errors it means to answer with.
 *
 * @example
 * ```ts
 * const row = await runEffect(store.get(id)); // rejects with NotFoundError
 * ```
 */
export const runEffect = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  const r = await Effect.runPromise(Effect.result(effect));
  if (Result.isSuccess(r)) return r.success;
  throw r.failure;
};
