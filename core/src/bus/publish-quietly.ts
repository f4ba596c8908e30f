import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Publish on core NATS where losing the message is acceptable (log lines, cluster chatter,
 * exec output after its reader left): a connection that is closing or closed drops it instead of
 * throwing into the caller, which is often a container winding down as its agent stops.
 *
 * @example
 * ```ts
 * publishQuietly(nc, Subjects.logs(appId), JSON.stringify(line));
 * ```
 */
export const publishQuietly = (nc: NatsConnection, subject: string, data: string | Uint8Array): void => {
  if (nc.isClosed() || nc.isDraining()) return;
  try {
    nc.publish(subject, data);
  } catch {
    // Closed between the check and the publish: the message is dropped, as documented.
  }
};
