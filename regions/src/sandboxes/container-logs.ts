import type { JetStreamClient } from "@nats-io/jetstream";
import { Streams, Subjects } from "@ferry/core";

/** After a followed container is gone, lines still in flight get this long to arrive. */
const GONE_DRAIN_MS = 500;

/** Whether a log line (JSON) was written by `containerId`. */
export const isLineOf = (json: string, containerId: string): boolean => {
  try {
    return (JSON.parse(json) as { containerId?: unknown }).containerId === containerId;
  } catch {
    return false;
  }
};

/**
 * The log lines one container wrote (JSON, as in the FERRY_LOGS stream), read from the stream of
 * its app: every kept line, then, with `follow`, new ones until `gone` resolves or `signal` aborts.
 *
 * @example
 * ```ts
 * for await (const line of containerLogLines(js, { appId, containerId, follow: false })) write(line);
 * ```
 */
export async function* containerLogLines(js: JetStreamClient, opts: {
  readonly appId: string;
  readonly containerId: string;
  readonly follow: boolean;
  readonly gone?: Promise<void>;
  readonly signal?: AbortSignal;
}): AsyncGenerator<string> {
  const consumer = await js.consumers.get(Streams.logs, { filter_subjects: Subjects.logs(opts.appId) });
  let remaining = (await consumer.info()).num_pending;
  if (!opts.follow && remaining === 0) return;
  const messages = await consumer.consume();
  const stop = () => messages.stop();
  opts.signal?.addEventListener("abort", stop, { once: true });
  void opts.gone?.then(() => setTimeout(stop, GONE_DRAIN_MS));
  try {
    for await (const m of messages) {
      remaining--;
      const line = m.string();
      if (isLineOf(line, opts.containerId)) yield line;
      if (!opts.follow && remaining <= 0) break;
    }
  } finally {
    stop();
  }
}
