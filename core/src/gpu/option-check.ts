/**
 * The outcome of checking a function option against what the platform can offer: the value in
 * canonical form, or a message that says what is wrong and what would be accepted.
 *
 * @example
 * ```ts
 * const check: OptionCheck<ReadonlyArray<string>> = { ok: false, message: 'unknown cloud "lamda"' };
 * if (!check.ok) console.error(check.message);
 * ```
 */
export type OptionCheck<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };
