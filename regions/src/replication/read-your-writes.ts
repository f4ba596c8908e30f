import type { StateReplica } from "./state-replica.ts";
import { STATE_SEQ_HEADER } from "@ferry/core";
import { STATE_SEQ_WAIT_MS } from "./open-state-client.ts";

/** A request body at most this large is kept, so a request that missed state can be answered again. */
export const RETRYABLE_BODY_BYTES = 1024 * 1024;

/**
 * Serve `handler` so that a request naming a state sequence (`x-ferry-state-seq`) never misses a
 * write that sequence covers: when this replica is behind it, the request is first answered
 * as is (most need nothing newer); only if that answer is a 404 does the request wait for the
 * replica to catch up (at most `STATE_SEQ_WAIT_MS`) and run again. A request whose body cannot be
 * kept (streamed, or over `RETRYABLE_BODY_BYTES`) waits first instead.
 *
 * @example
 * ```ts
 * listenHttp(readYourWrites(replica, api.fetch), host, port);
 * ```
 */
export const readYourWrites = (replica: StateReplica, handler: (req: Request) => Response | Promise<Response>) => async (req: Request): Promise<Response> => {
  const seq = Number(req.headers.get(STATE_SEQ_HEADER) ?? 0);
  if (!(seq > replica.appliedSeq)) return handler(req);
  const length = req.headers.get("content-length");
  const keepable = req.body === null || (length !== null && Number(length) <= RETRYABLE_BODY_BYTES);
  if (!keepable) {
    await replica.waitForSeq(seq, STATE_SEQ_WAIT_MS);
    return handler(req);
  }
  const again = req.clone();
  const first = await handler(req);
  if (first.status !== 404 || replica.appliedSeq >= seq) return first;
  await first.body?.cancel();
  await replica.waitForSeq(seq, STATE_SEQ_WAIT_MS);
  return handler(again);
};
