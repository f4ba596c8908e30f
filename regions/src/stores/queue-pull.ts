import { createInbox, type Msg, type NatsConnection } from "@nats-io/transport-node";

/** Extra time past a pull's expiry before giving up on a server that never answered it. */
const PULL_GRACE_MS = 2_000;
/** How long acknowledging a taken item may take. */
const ACK_TIMEOUT_MS = 5_000;

const nanos = (ms: number) => Math.round(ms * 1_000_000);

export interface PullOptions {
  /** Most items to take. */
  readonly batch: number;
  /** How long to wait for the first item when none is there; 0 answers at once. */
  readonly waitMs: number;
  /** Once aborted, items that still arrive are handed back (nak) instead of taken. */
  readonly signal?: AbortSignal;
}

/**
 * Take up to `batch` items from a durable pull consumer of a work-queue stream: whatever is there
 * now, else the first to arrive within `waitMs`. Uses the pull API's `no_wait` with `expires`
 * (nats-server 2.9: answer with what is available, or wait for at least one), which the client
 * library does not expose. Items are acknowledged (double ack: the server confirmed their removal)
 * before they are returned; a pull aborted meanwhile returns nothing and hands its items back.
 *
 * @example
 * ```ts
 * const items = await pullAvailable(nc, "FQ_ws-1_jobs", "default", { batch: 10, waitMs: 5_000 });
 * ```
 */
export const pullAvailable = async (nc: NatsConnection, stream: string, consumer: string, opts: PullOptions): Promise<Uint8Array[]> => {
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  const request = opts.waitMs > 0 ? { batch: opts.batch, no_wait: true, expires: nanos(opts.waitMs) } : { batch: opts.batch, no_wait: true };
  // A missing consumer gets no answer at all: stop listening a little after the pull would have expired.
  const guard = setTimeout(() => sub.unsubscribe(), opts.waitMs + PULL_GRACE_MS);
  const taken: Msg[] = [];
  const handBack = (m: Msg) => m.respond("-NAK");
  try {
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify(request), { reply: inbox });
    for await (const m of sub) {
      const code = m.headers?.code ?? 0;
      if (code >= 400) break; // 404 no messages, 408 expired, 409 consumer gone or too many waiting
      if (code > 0 && m.data.length === 0) continue; // heartbeats and other status lines
      if (opts.signal?.aborted) {
        handBack(m);
        continue;
      }
      taken.push(m);
      if (taken.length >= opts.batch) break;
    }
  } finally {
    clearTimeout(guard);
    sub.unsubscribe();
  }
  if (opts.signal?.aborted) {
    for (const m of taken) handBack(m);
    return [];
  }
  await Promise.all(taken.map((m) => nc.request(m.reply!, "+ACK", { timeout: ACK_TIMEOUT_MS })));
  return taken.map((m) => m.data);
};
