import { PayloadTooLargeError, ValidationError } from "../errors/errors.ts";
import { Limits } from "../limits/limits.ts";

const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextEncoder();

/** UTF-8 length of a string. */
const utf8Bytes = (s: string): number => utf8.encode(s).byteLength;

/**
 * Why `key` cannot be a Dict key or Queue partition key, or `undefined` when it can: keys are
 * non-empty, well-formed strings of at most `maxBytes` UTF-8 bytes without control characters.
 *
 * @example
 * ```ts
 * storeKeyProblem("user:42", Limits.maxDictKeyBytes, "maxDictKeyBytes"); // undefined
 * storeKeyProblem("", Limits.maxDictKeyBytes, "maxDictKeyBytes"); // "expected a non-empty string"
 * ```
 */
export const storeKeyProblem = (key: string, maxBytes: number, limitName: string): string | undefined => {
  if (key.length === 0) return "expected a non-empty string";
  if (LONE_SURROGATE.test(key)) return "expected well-formed Unicode (no lone surrogates)";
  if (CONTROL.test(key)) return "must not contain control characters (U+0000–U+001F, U+007F)";
  const bytes = utf8Bytes(key);
  if (bytes > maxBytes) return `is ${bytes} bytes; the limit (${limitName}) is ${maxBytes} bytes`;
  return undefined;
};

const NAME_HINT = "expected a name of letters, digits, '_' and '-' (at most 64), starting with a letter or '_'";

/**
 * A `ValidationError` naming `field` when `name` is not a valid Dict or Queue name
 * (`Limits.namePattern`), else `undefined`.
 *
 * @example
 * ```ts
 * storeNameProblem("bad name", "path.name")?.message; // "path.name: expected a name of letters, …"
 * ```
 */
export const storeNameProblem = (name: string, field: string): ValidationError | undefined =>
  Limits.namePattern.test(name) ? undefined : new ValidationError({ field, message: `${field}: ${NAME_HINT}, got ${JSON.stringify(name)}` });

/**
 * A `ValidationError` naming `field` when `key` is not a valid partition key, else `undefined`.
 *
 * @example
 * ```ts
 * partitionProblem("jobs-eu", "query.partition"); // undefined
 * ```
 */
export const partitionProblem = (partition: string, field: string): ValidationError | undefined => {
  const problem = storeKeyProblem(partition, Limits.maxQueuePartitionBytes, "maxQueuePartitionBytes");
  return problem ? new ValidationError({ field, message: `${field}: ${problem}` }) : undefined;
};

/** Encoded size of a stored value: the UTF-8 bytes of its JSON. */
export const storeValueBytes = (value: unknown): number => utf8Bytes(JSON.stringify(value) ?? "null");

/**
 * The first of `values` whose encoded size is over `maxBytes`, as a `PayloadTooLargeError`
 * naming it with `describe(index)`; `undefined` when all fit.
 *
 * @example
 * ```ts
 * oversizedStoreValue(items, Limits.maxQueueItemBytes, "maxQueueItemBytes", (i) => `queue item ${i}`);
 * ```
 */
export const oversizedStoreValue = (values: ReadonlyArray<unknown>, maxBytes: number, limit: string, describe: (index: number) => string): PayloadTooLargeError | undefined => {
  for (const [i, value] of values.entries()) {
    const size = storeValueBytes(value);
    if (size > maxBytes) {
      return new PayloadTooLargeError({ limit, maxBytes, message: `${describe(i)} is ${size} bytes encoded; the limit (${limit}) is ${maxBytes} bytes` });
    }
  }
  return undefined;
};
