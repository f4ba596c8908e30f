import { connect, type NatsConnection } from "@nats-io/transport-node";

/** How often a connection pings its server (it counts as lost after `maxPingOut` unanswered). */
export const DEFAULT_NATS_PING_INTERVAL_MS = 10_000;

/**
 * Connect to NATS from Node (Bun and Deno too); reconnects forever so a restarted nats-server
 * is picked up again. `pingIntervalMs` shortens the time to notice a server that stopped
 * answering without closing the connection (a cut-off region).
 */
export const connectNats = (servers: string, name: string, opts: { readonly pingIntervalMs?: number } = {}): Promise<NatsConnection> =>
  connect({
    servers: servers.split(","), name, maxReconnectAttempts: -1, reconnectTimeWait: 250,
    pingInterval: opts.pingIntervalMs ?? DEFAULT_NATS_PING_INTERVAL_MS, maxPingOut: 2,
  });
