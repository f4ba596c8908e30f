/**
 * The header an edge sends with the replicated state's sequence it has applied; a region whose
 * replica is behind it answers once it has caught up (read-your-writes across replicas).
 *
 * @example
 * ```ts
 * fetch(url, { headers: { [STATE_SEQ_HEADER]: String(replica.appliedSeq) } });
 * ```
 */
export const STATE_SEQ_HEADER = "x-ferry-state-seq";
