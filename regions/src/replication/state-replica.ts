/**
 * A replica of the platform state: a local libSQL database that applies, in order, every entry of
 * the replicated state log (a JetStream stream kept on a majority of the state cluster's servers,
 * one or more per region). Reads are local. A write is published to the log (acknowledged once a
 * majority of the stream's replicas stored it) and returns when this replica has applied it, with
 * the result of that application: so a writer reads its own writes, and conditional writes (an
 * `INSERT … ON CONFLICT DO NOTHING` claiming a schedule tick) have one winner everywhere, because
 * every replica applies the same entries in the same order.
 */
import { randomBytes } from "node:crypto";
import { DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Client, InArgs, InStatement, ResultSet, TransactionMode } from "@libsql/client";
import { latestSnapshotSeq, publishStateSnapshot, STATE_SNAPSHOT_EVERY_ENTRIES } from "./state-snapshots.ts";
import { decodeStatement, encodeStatement, isWriteStatement, parseLogEntry, type LogEntry } from "./log-entry.ts";

/** The stream holding the state log. */
export const STATE_STREAM = "FERRY_STATE";
/** Its one subject. */
export const STATE_SUBJECT = "ferry.state.log";
/** How long a write waits for the log's acknowledgement and its local application. */
export const DEFAULT_STATE_WRITE_TIMEOUT_MS = 10_000;
/** How long opening waits for the state cluster to accept the stream (it may still be electing). */
const STREAM_READY_TIMEOUT_MS = 30_000;
/** Retried publishes with the same id within this window are stored once. */
const DUPLICATE_WINDOW_NS = 120 * 1e9;
/** Pause between publish attempts while the state cluster cannot take a write. */
const PUBLISH_RETRY_MS = 100;
/** Lifetime of each pull of the applier's consumer; its heartbeats are half of it. */
const CONSUME_EXPIRES_MS = 1_000;
/** How often the direct-get bridge looks for the next entry when there is none yet. */
const BRIDGE_POLL_MS = 50;
/** Missed heartbeats after which the applier's consumer is recreated elsewhere. */
const HEARTBEATS_MISSED_BEFORE_RESTART = 2;
/** Pause between attempts to recreate it. */
const RESTART_CONSUMER_MS = 250;
/** The local table that records how far this replica applied the log. */
const PROGRESS_TABLE = "ferry_replica";

/** Options of `StateReplica.open`. */
export interface StateReplicaOptions {
  /** The replica's own database, already migrated. */
  readonly local: Client;
  /** A connection to the state cluster (every member's URL, so losing one server is survived). */
  readonly nc: NatsConnection;
  /** Who writes through this replica (a region's name, or "edge"); recorded in each entry. */
  readonly origin: string;
  /** Copies of the log the state cluster keeps (default 3; at most the cluster's size). */
  readonly replicas?: number;
  readonly writeTimeoutMs?: number;
  /** Told about entries that failed to apply (the same everywhere: a constraint, a bad statement). */
  readonly log?: (line: string) => void;
  /** Publish a snapshot every `STATE_SNAPSHOT_EVERY_ENTRIES` entries (needs a scratch dir next to the database). */
  readonly snapshots?: { readonly workDir: string };
}

/** Raised when the log cannot take a write (no majority of the state cluster is reachable). */
export class StateLogUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StateLogUnavailableError";
  }
}

/** SQLite result codes that say the replica's own database failed, not the statements. */
const LOCAL_DATABASE_ERRORS = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|NOMEM|INTERRUPT|PROTOCOL|READONLY)/;

/** Whether `error` is this replica's database failing (transient or local), not the entry's SQL. */
export const isLocalDatabaseError = (error: unknown): boolean => {
  const e = error as { code?: unknown; rawCode?: unknown; cause?: { code?: unknown } } | undefined;
  const code = typeof e?.code === "string" ? e.code : typeof e?.cause?.code === "string" ? e.cause.code : "";
  return LOCAL_DATABASE_ERRORS.test(code);
};

/** Raised when a replica is older than the oldest entry the log still holds. */
export class StateLogGapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateLogGapError";
  }
}

type Settle = { resolve: (r: ResultSet[]) => void; reject: (e: unknown) => void };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ensure the log's stream exists, waiting while the state cluster elects its leaders. */
const ensureStream = async (jsm: JetStreamManager, replicas: number): Promise<void> => {
  const deadline = Date.now() + STREAM_READY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await jsm.streams.info(STATE_STREAM);
      return;
    } catch (e) {
      last = e;
    }
    try {
      await jsm.streams.add({
        name: STATE_STREAM, subjects: [STATE_SUBJECT], storage: StorageType.File, retention: RetentionPolicy.Limits,
        num_replicas: replicas, duplicate_window: DUPLICATE_WINDOW_NS, allow_direct: true,
      });
      return;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new StateLogUnavailableError(`the state log stream ${STATE_STREAM} is not available: ${String(last)}`, { cause: last });
};

/**
 * One replica of the platform state.
 *
 * @example
 * ```ts
 * const replica = await StateReplica.open({ local: await openLibsql("file:us-east.db"), nc, origin: "us-east" });
 * const storage = Storage.layerClient(replica.client); // reads local, writes through the log
 * ```
 */
export class StateReplica {
  /** The libSQL `Client` the platform's stores use: reads local, writes replicated. */
  readonly client: Client;
  private readonly opts: StateReplicaOptions;
  private readonly js: JetStreamClient;
  private applied = 0;
  private readonly pending = new Map<string, Settle>();
  private readonly seqWaiters = new Set<{ seq: number; wake: () => void }>();
  private stopConsuming: (() => void) | undefined;
  private closed = false;
  private lastSnapshotSeq = 0;
  /** Recreate the applier's consumer (set while one runs). */
  private replaceConsumer: (() => void) | undefined;
  /** Entries are applied one at a time, whichever path brought them. */
  private applying: Promise<void> = Promise.resolve();
  /** True while the consumer is being recreated: entries are then read one by one (`bridge`). */
  private consumerDown = false;
  private jsm: JetStreamManager | undefined;
  private snapshotting = false;

  private constructor(opts: StateReplicaOptions) {
    this.opts = opts;
    this.js = jetstream(opts.nc);
    this.client = this.facade();
  }

  /** Open a replica: create its progress table, make sure the log exists, and catch up with it. */
  static async open(opts: StateReplicaOptions): Promise<StateReplica> {
    await opts.local.execute(`CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), applied_seq INTEGER NOT NULL)`);
    await opts.local.execute(`INSERT INTO ${PROGRESS_TABLE} (id, applied_seq) VALUES (1, 0) ON CONFLICT(id) DO NOTHING`);
    const replica = new StateReplica(opts);
    // After the connection moved to another server (its own died), the consumer may have lived on
    // the dead one: recreate it now rather than after missed heartbeats.
    void (async () => {
      for await (const st of opts.nc.status()) {
        if (st.type === "reconnect" && !replica.closed) replica.replaceConsumer?.();
      }
    })().catch(() => undefined);
    if (opts.snapshots) replica.lastSnapshotSeq = await latestSnapshotSeq(opts.nc, opts.replicas ?? 3).catch(() => 0);
    const rs = await opts.local.execute(`SELECT applied_seq FROM ${PROGRESS_TABLE} WHERE id = 1`);
    replica.applied = Number(rs.rows[0]?.applied_seq ?? 0);
    const jsm = await jetstreamManager(opts.nc);
    replica.jsm = jsm;
    await ensureStream(jsm, opts.replicas ?? 3);
    const first = (await jsm.streams.info(STATE_STREAM)).state.first_seq;
    if (replica.applied > 0 || first > 1) {
      if (replica.applied + 1 < first) {
        throw new StateLogGapError(`this replica applied the state log up to ${replica.applied}, and the log now starts at ${first}: restore the latest snapshot first (openStateClient does)`);
      }
    }
    await replica.startConsuming();
    const info = await jsm.streams.info(STATE_STREAM);
    await replica.waitForSeq(info.state.last_seq, STREAM_READY_TIMEOUT_MS);
    return replica;
  }

  /** The last log sequence this replica applied. */
  get appliedSeq(): number {
    return this.applied;
  }

  /** Resolves once this replica applied the log up to `seq` (false after `timeoutMs`). */
  waitForSeq(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.applied >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { seq, wake: () => { clearTimeout(timer); this.seqWaiters.delete(waiter); resolve(true); } };
      const timer = setTimeout(() => { this.seqWaiters.delete(waiter); resolve(false); }, timeoutMs);
      this.seqWaiters.add(waiter);
    });
  }

  /** Stop applying; pending writes fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopConsuming?.();
    for (const p of this.pending.values()) p.reject(new StateLogUnavailableError("the state replica closed"));
    this.pending.clear();
  }

  /**
   * Apply the log from `applied + 1` on with an ordered consumer. The consumer is R1, so it lives
   * on one server of the state cluster: when that server goes, its heartbeats stop, and it is
   * recreated (on a live server) from the next entry this replica lacks.
   */
  private async startConsuming(): Promise<void> {
    const consumer = await this.js.consumers.get(STATE_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.applied + 1 });
    // Short pulls: heartbeats then show a lost server within about a second.
    const messages = await consumer.consume({ expires: CONSUME_EXPIRES_MS });
    let replaced = false;
    const replace = () => {
      if (replaced || this.closed) return;
      replaced = true;
      void messages.stop();
      this.consumerDown = true;
      void this.bridge();
      void this.restartConsuming();
    };
    this.stopConsuming = () => {
      replaced = true;
      void messages.stop();
    };
    this.replaceConsumer = replace;
    void (async () => {
      for await (const st of messages.status()) {
        if (st.type === "heartbeats_missed" && st.count >= HEARTBEATS_MISSED_BEFORE_RESTART) replace();
      }
    })().catch(() => undefined);
    void (async () => {
      for await (const m of messages) {
        if (this.closed || replaced) break;
        await this.applyInOrder(m.seq, m.string());
      }
    })().catch((e: unknown) => {
      this.opts.log?.(`state replica ${this.opts.origin}: applying stopped (${String(e)}); resuming`);
      replace();
    });
  }

  /** Recreate the consumer until the state cluster takes it. */
  private async restartConsuming(): Promise<void> {
    while (!this.closed) {
      try {
        await this.startConsuming();
        this.consumerDown = false;
        return;
      } catch (e) {
        this.opts.log?.(`state replica ${this.opts.origin}: cannot resume applying yet: ${String(e)}`);
        await sleep(RESTART_CONSUMER_MS);
      }
    }
  }

  /**
   * While the consumer is being recreated (creating one needs the state cluster's meta leader,
   * which a lost server may have been: an election takes seconds), read the next entries one by
   * one with direct gets, which any replica of the stream answers.
   */
  private async bridge(): Promise<void> {
    while (this.consumerDown && !this.closed && this.jsm !== undefined) {
      const next = this.applied + 1;
      const m = await this.jsm.direct.getMessage(STATE_STREAM, { seq: next }).catch(() => null);
      if (m !== null && this.consumerDown) await this.applyInOrder(m.seq, m.string());
      else await sleep(BRIDGE_POLL_MS);
    }
  }

  /** Apply entry `seq` if it is the next one (either path may bring an entry twice). */
  private applyInOrder(seq: number, text: string): Promise<void> {
    this.applying = this.applying.then(() => {
      if (seq === this.applied + 1) return this.apply(seq, text);
      // Entries before `seq` are gone from the log (trimmed behind a snapshot): restart to restore it.
      if (seq > this.applied + 1) this.opts.log?.(`state replica ${this.opts.origin}: entry ${seq} follows a gap after ${this.applied}; restart it to restore the latest snapshot`);
    });
    return this.applying;
  }

  private async apply(seq: number, text: string): Promise<void> {
    const progress = { sql: `UPDATE ${PROGRESS_TABLE} SET applied_seq = ? WHERE id = 1`, args: [seq] };
    const entry = parseLogEntry(text, seq);
    let outcome: { ok: ResultSet[] } | { error: unknown };
    if (entry instanceof Error) {
      this.opts.log?.(entry.message);
      await this.opts.local.execute(progress);
      outcome = { error: entry };
    } else {
      outcome = await this.applyEntry(entry, progress);
    }
    this.applied = seq;
    if (!(entry instanceof Error)) {
      const waiter = this.pending.get(entry.id);
      if (waiter) {
        this.pending.delete(entry.id);
        if ("ok" in outcome) waiter.resolve(outcome.ok);
        else waiter.reject(outcome.error);
      }
    }
    for (const w of [...this.seqWaiters]) if (w.seq <= seq) w.wake();
    if (this.opts.snapshots && !this.snapshotting && seq - this.lastSnapshotSeq >= STATE_SNAPSHOT_EVERY_ENTRIES) this.snapshot(this.opts.snapshots.workDir);
  }

  /** Publish a snapshot of this replica in the background (one at a time). */
  private snapshot(workDir: string): void {
    this.snapshotting = true;
    void publishStateSnapshot(this.opts.local, this.opts.nc, { workDir, origin: this.opts.origin, replicas: this.opts.replicas })
      .then((seq) => {
        this.lastSnapshotSeq = seq;
      })
      .catch((e: unknown) => this.opts.log?.(`state replica ${this.opts.origin}: snapshot failed: ${String(e)}`))
      .finally(() => {
        this.snapshotting = false;
      });
  }

  /**
   * Apply one entry with its progress mark, all or nothing. An error of the SQL itself (a
   * constraint, a missing table) happens the same way on every replica: the entry is skipped here
   * too and its writer gets the error. An error of this replica's database (busy, I/O, full) is
   * not the entry's: it is retried until it applies, so no replica ever skips what others applied.
   */
  private async applyEntry(entry: LogEntry, progress: InStatement): Promise<{ ok: ResultSet[] } | { error: unknown }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const results = await this.opts.local.batch([...entry.statements.map(decodeStatement), progress], "write");
        return { ok: results.slice(0, -1) };
      } catch (error) {
        if (!isLocalDatabaseError(error)) {
          await this.opts.local.execute(progress);
          return { error };
        }
        if (this.closed) throw error;
        if (attempt % 20 === 0) this.opts.log?.(`state replica ${this.opts.origin}: entry ${entry.id} waits for the local database: ${String(error)}`);
        await sleep(Math.min(1_000, 10 * 2 ** Math.min(attempt, 7)));
      }
    }
  }

  /** Publish `statements` as one entry and wait for this replica to apply it. */
  private async write(statements: ReadonlyArray<InStatement>): Promise<ResultSet[]> {
    if (this.closed) throw new StateLogUnavailableError("the state replica is closed");
    const entry: LogEntry = { id: randomBytes(12).toString("hex"), origin: this.opts.origin, statements: statements.map(encodeStatement) };
    const timeoutMs = this.opts.writeTimeoutMs ?? DEFAULT_STATE_WRITE_TIMEOUT_MS;
    const applied = new Promise<ResultSet[]>((resolve, reject) => this.pending.set(entry.id, { resolve, reject }));
    applied.catch(() => undefined);
    const deadline = Date.now() + timeoutMs;
    let seq: number | undefined;
    let lastCause: unknown;
    // A cluster electing a leader answers "no responders" or times out for a moment: retry with the
    // same id (the stream stores it once) until the deadline.
    while (seq === undefined && Date.now() < deadline && !this.closed) {
      try {
        const ack = await this.js.publish(STATE_SUBJECT, JSON.stringify(entry), { msgID: entry.id, timeout: Math.max(1, Math.min(2_000, deadline - Date.now())) });
        seq = ack.seq;
      } catch (cause) {
        lastCause = cause;
        await sleep(PUBLISH_RETRY_MS);
      }
    }
    if (seq === undefined) {
      this.pending.delete(entry.id);
      throw new StateLogUnavailableError(`state write not acknowledged by a majority of the state cluster within ${timeoutMs} ms: ${String(lastCause)}`, { cause: lastCause });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StateLogUnavailableError(`state write ${seq} was acknowledged but not applied here within ${timeoutMs} ms`)), Math.max(1_000, deadline - Date.now()));
    });
    try {
      return await Promise.race([applied, timeout]);
    } finally {
      clearTimeout(timer);
      this.pending.delete(entry.id);
    }
  }

  /** The `Client` the stores use; only what they call is replicated, the rest refused by name. */
  private facade(): Client {
    const local = this.opts.local;
    const refuse = (what: string) => () => Promise.reject(new Error(`${what} is not supported on a replicated state client`));
    const toStatement = (stmt: InStatement | string, args?: InArgs): InStatement =>
      typeof stmt === "string" ? { sql: stmt, args: args ?? [] } : stmt;
    const replica = this;
    return {
      execute: async (stmt: InStatement | string, args?: InArgs) => {
        const s = toStatement(stmt, args);
        return isWriteStatement(s) ? (await replica.write([s]))[0]! : local.execute(s);
      },
      batch: (given: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode) => {
        const stmts = given.map((s) => Array.isArray(s) ? { sql: s[0], args: s[1] ?? [] } : s);
        return stmts.some(isWriteStatement) ? replica.write(stmts) : local.batch(stmts, mode ?? "read");
      },
      migrate: refuse("migrate"),
      transaction: refuse("an interactive transaction"),
      executeMultiple: refuse("executeMultiple"),
      sync: () => local.sync(),
      close: () => void replica.close(),
      reconnect: () => local.reconnect(),
      get closed() {
        return replica.closed;
      },
      get protocol() {
        return local.protocol;
      },
    } as Client;
  }
}
