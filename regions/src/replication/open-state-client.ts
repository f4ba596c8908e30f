import type { Client } from "@libsql/client";
import { mkdir } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { dirname } from "node:path";
import { Effect } from "effect";
import { migrate } from "@ferry/core";
import { connectNats, openLibsql } from "@ferry/core/node";
import { StateReplica } from "./state-replica.ts";
import { restoreStateSnapshot } from "./state-snapshots.ts";

/** Where a process's platform state comes from. */
export interface StateClientOptions {
  /** The local database: the whole state (one region), or this process's replica of it. */
  readonly databaseUrl: string;
  /** With this, the database is a replica of the replicated state log on this state cluster. */
  readonly replication?: {
    /** Every state-cluster server's client URL, comma-separated. */
    readonly natsUrls: string;
    /** This replica's name in log entries (a region's name, or "edge"). */
    readonly origin: string;
    /** Copies of the log (default 3). */
    readonly replicas?: number;
  };
  readonly log?: (line: string) => void;
}

/** An open state client. */
export interface StateClient {
  /** What the stores use: reads local, writes through the log when replicated. */
  readonly client: Client;
  /** Present when replicated. */
  readonly replica?: StateReplica;
  /** The connection to the state cluster, when replicated (Dicts and Queues live there too). */
  readonly nc?: NatsConnection;
  close(): Promise<void>;
}

/**
 * Open the platform state for a region or an edge: a plain libSQL database, or (with
 * `replication`) a migrated local replica that has caught up with the state log.
 *
 * @example
 * ```ts
 * const state = await openStateClient({ databaseUrl: "file:us-east.db", replication: { natsUrls, origin: "us-east" } });
 * ```
 */
export const openStateClient = async (opts: StateClientOptions): Promise<StateClient> => {
  if (!opts.replication) {
    const local = await openLibsql(opts.databaseUrl);
    return { client: local, close: async () => local.close() };
  }
  // Short pings: a state server cut off without closing its connections is left within ~3 s.
  const nc = await connectNats(opts.replication.natsUrls, `ferry-state-${opts.replication.origin}`, { pingIntervalMs: STATE_NATS_PING_MS });
  const path = opts.databaseUrl.startsWith("file:") ? opts.databaseUrl.slice("file:".length) : undefined;
  let local: Client | undefined;
  try {
    // A new replica, or one older than the log's oldest entry, starts from the latest snapshot.
    if (path !== undefined) {
      await mkdir(dirname(path), { recursive: true });
      const restored = await restoreStateSnapshot(path, nc, opts.replication.replicas);
      if (restored !== undefined) opts.log?.(`state replica ${opts.replication.origin}: restored a snapshot at log entry ${restored}`);
    }
    local = await openLibsql(opts.databaseUrl);
    // The schema is code's, not the log's: every replica migrates its own database.
    await Effect.runPromise(migrate(local));
    const replica = await StateReplica.open({
      local, nc, origin: opts.replication.origin, replicas: opts.replication.replicas, log: opts.log,
      snapshots: path !== undefined ? { workDir: dirname(path) } : undefined,
    });
    const db = local;
    return {
      client: replica.client,
      replica,
      nc,
      close: async () => {
        await replica.close();
        await nc.drain().catch(() => undefined);
        db.close();
      },
    };
  } catch (e) {
    await nc.close().catch(() => undefined);
    local?.close();
    throw e;
  }
};

/** Ping interval of connections to the state cluster. */
export const STATE_NATS_PING_MS = 1_000;

/** How long a region waits to catch up with a request's state sequence before answering anyway. */
export const STATE_SEQ_WAIT_MS = 2_000;
