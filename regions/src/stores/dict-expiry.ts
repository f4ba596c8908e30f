// TTL of Dict entries. nats-server 2.9 has no per-message TTL, so an entry put with `ttl` carries
// its expiry time in a header: reads treat an expired entry as absent, and the region purges
// expired entries periodically and whenever a full Dict needs room.

/** Header holding an entry's expiry, epoch milliseconds. */
export const EXPIRES_AT_HEADER = "Ferry-Expires-At";
/** Header NATS KV clients put on delete and purge markers (a bucket written by `nats kv`). */
export const KV_OPERATION_HEADER = "KV-Operation";

/**
 * When an entry put now with `ttlS` seconds to live expires; `undefined` without a TTL.
 *
 * @example
 * ```ts
 * expiresAtFor(1.5, 1_000); // 2_500
 * ```
 */
export const expiresAtFor = (ttlS: number | undefined, now: number): number | undefined =>
  ttlS === undefined ? undefined : now + Math.ceil(ttlS * 1000);

/**
 * Whether an entry is absent for readers: expired at `now`, or a KV delete/purge marker.
 *
 * @example
 * ```ts
 * isAbsent({ expiresAt: "2500" }, 3_000); // true
 * isAbsent({ expiresAt: "" }, 3_000); // false: no TTL
 * ```
 */
export const isAbsent = (headers: { readonly expiresAt?: string | null; readonly operation?: string | null }, now: number): boolean => {
  if (headers.operation === "DEL" || headers.operation === "PURGE") return true;
  if (!headers.expiresAt) return false;
  const at = Number(headers.expiresAt);
  return Number.isFinite(at) && at <= now;
};
