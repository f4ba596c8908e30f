import { connect, type NatsConnection } from "@nats-io/transport-node";

/**
 * Connect to NATS from Node (Bun and Deno too); reconnects forever so a restarted nats-server
 * is picked up again.
 */
export const connectNats = (servers: string, name: string): Promise<NatsConnection> =>
  connect({ servers: servers.split(","), name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 10_000 });
