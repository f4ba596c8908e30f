import type { NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type PubAck } from "@nats-io/jetstream";
import { ConflictError, Limits, NotFoundError, type ApiError } from "@ferry/core";
import type { Effect } from "effect";
import { KeyedMutex } from "./keyed-mutex.ts";
import { pullAvailable } from "./queue-pull.ts";
import { attempt, isMissingStream, isStreamFull } from "./store-errors.ts";
import { queueNames, storePrefixes, type QueueNames } from "./store-subjects.ts";

/** Room for headers on top of the largest item. */
const HEADER_ROOM_BYTES = 256;
/** A taken item not acknowledged within this long (the region died mid-get) is delivered again. */
export const QUEUE_ACK_WAIT_MS = 30_000;
/** A partition's consumer unused this long is removed; the next get recreates it. */
export const QUEUE_CONSUMER_IDLE_MS = 3_600_000;
/** Pull requests that may wait on one partition at once (concurrent blocking getters). */
const MAX_WAITING_GETS = 4_096;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const nanos = (ms: number) => ms * 1_000_000;

/** A Queue as listed. */
export interface QueueInfo { readonly name: string; readonly createdAt: number }

/** Which items `len` counts and `clear` removes: the default partition unless told. */
export interface PartitionScope { readonly partition?: string; readonly all?: boolean }

/**
 * Queues on JetStream: one work-queue stream per workspace and Queue, a subject per partition,
 * one durable pull consumer per partition (so every getter of a partition shares it and each item
 * goes to exactly one of them, in FIFO order). The stream caps the Queue's items (`max_msgs`,
 * `discard: new`); the per-partition cap and the all-or-nothing `putMany` are checked under a
 * per-queue lock before anything is written, and a write that still fails midway (another
 * region's writer raced it) deletes the items it had written.
 *
 * @example
 * ```ts
 * const queues = new QueueStore(bus.nc, bus.js, bus.jsm);
 * await Effect.runPromise(queues.put("ws-1", "jobs", [{ n: 1 }]));
 * const { values } = await Effect.runPromise(queues.get("ws-1", "jobs", { n: 1, waitMs: 5_000 }));
 * ```
 */
export class QueueStore {
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly locks = new KeyedMutex();

  /** Copies of each Queue's stream (1 on a region's own NATS; 3 on the replicated state cluster). */
  private readonly replicas: number;

  constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, replicas = 1) {
    this.nc = nc;
    this.js = js;
    this.jsm = jsm;
    this.replicas = replicas;
  }

  /** Create the Queue if missing; `created` says whether this call made it. */
  ensure(ws: string, name: string): Effect.Effect<{ readonly created: boolean }, ApiError> {
    const n = queueNames(ws, name);
    return attempt("QueueStore.ensure", async () => {
      const exists = await this.jsm.streams.info(n.stream).then(() => true, (e: unknown) => (isMissingStream(e) ? false : Promise.reject(e)));
      if (exists) return { created: false };
      await this.jsm.streams.add({
        name: n.stream, subjects: [n.all], retention: RetentionPolicy.Workqueue, storage: StorageType.File,
        max_msgs: Limits.maxQueueItems, discard: DiscardPolicy.New, max_msg_size: Limits.maxQueueItemBytes + HEADER_ROOM_BYTES, num_replicas: this.replicas,
      });
      return { created: true };
    });
  }

  /** The Queue's creation time and item count over all partitions; `NotFoundError` when missing. */
  info(ws: string, name: string): Effect.Effect<QueueInfo & { readonly len: number }, ApiError> {
    const n = queueNames(ws, name);
    return attempt("QueueStore.info", async () => {
      const si = await this.jsm.streams.info(n.stream).catch((e: unknown) => this.rethrow(e, name));
      return { name, createdAt: Date.parse(si.created), len: si.state.messages };
    });
  }

  /** The workspace's Queues, by name. */
  list(ws: string): Effect.Effect<ReadonlyArray<QueueInfo>, ApiError> {
    const prefix = storePrefixes(ws).queue;
    return attempt("QueueStore.list", async () => {
      const out: QueueInfo[] = [];
      for await (const si of this.jsm.streams.list()) {
        if (si.config.name.startsWith(prefix)) out.push({ name: si.config.name.slice(prefix.length), createdAt: Date.parse(si.created) });
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  /** Delete the Queue and every item in it. */
  remove(ws: string, name: string): Effect.Effect<void, ApiError> {
    return attempt("QueueStore.remove", async () => {
      await this.jsm.streams.delete(queueNames(ws, name).stream).catch((e: unknown) => this.rethrow(e, name));
    });
  }

  /** Append `values` in order to a partition: all of them, or none with a `ConflictError` when they do not fit. */
  put(ws: string, name: string, values: ReadonlyArray<unknown>, partition?: string): Effect.Effect<{ readonly written: number }, ApiError> {
    const n = queueNames(ws, name);
    const subject = n.subject(partition);
    return attempt("QueueStore.put", () => this.locks.run(n.stream, async () => {
      const si = await this.jsm.streams.info(n.stream, { subjects_filter: subject }).catch((e: unknown) => this.rethrow(e, name));
      const total = si.state.messages;
      const inPartition = si.state.subjects?.[subject] ?? 0;
      if (total + values.length > Limits.maxQueueItems) {
        throw new ConflictError({ message: `queue ${name} is full: it holds ${total} items and this put adds ${values.length}; at most ${Limits.maxQueueItems} (maxQueueItems). Get or clear items first` });
      }
      if (inPartition + values.length > Limits.maxQueuePartitionItems) {
        throw new ConflictError({ message: `partition ${partition === undefined ? "(default)" : JSON.stringify(partition)} of queue ${name} is full: it holds ${inPartition} items and this put adds ${values.length}; at most ${Limits.maxQueuePartitionItems} per partition (maxQueuePartitionItems)` });
      }
      // Published in order on one connection, so stored in order.
      const results = await Promise.allSettled(values.map((v) => this.js.publish(subject, utf8.encode(JSON.stringify(v)), { expect: { streamName: n.stream } })));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) {
        const written = results.flatMap((r) => (r.status === "fulfilled" ? [(r.value as PubAck).seq] : []));
        await Promise.all(written.map((seq) => this.jsm.streams.deleteMessage(n.stream, seq, false).catch(() => false)));
        if (isStreamFull(failed.reason)) throw new ConflictError({ message: `queue ${name} is full: at most ${Limits.maxQueueItems} items (maxQueueItems); nothing of this put was kept` });
        this.rethrow(failed.reason, name);
      }
      return { written: values.length };
    }));
  }

  /**
   * Take up to `n` items from a partition, oldest first: those there now, else the first to
   * arrive within `waitMs`. An empty list when none came.
   */
  get(ws: string, name: string, opts: { readonly n: number; readonly waitMs: number; readonly partition?: string; readonly signal?: AbortSignal }): Effect.Effect<{ readonly values: ReadonlyArray<unknown> }, ApiError> {
    const n = queueNames(ws, name);
    return attempt("QueueStore.get", async () => {
      await this.ensureConsumer(n, name, opts.partition);
      const data = await pullAvailable(this.nc, n.stream, n.consumer(opts.partition), { batch: opts.n, waitMs: opts.waitMs, signal: opts.signal });
      return { values: data.map((d) => JSON.parse(fromUtf8.decode(d)) as unknown) };
    });
  }

  /** Items in the default partition, in `partition`, or in all of them (`total`). */
  len(ws: string, name: string, opts: { readonly partition?: string; readonly total?: boolean }): Effect.Effect<number, ApiError> {
    const n = queueNames(ws, name);
    return attempt("QueueStore.len", async () => {
      if (opts.total) return (await this.jsm.streams.info(n.stream).catch((e: unknown) => this.rethrow(e, name))).state.messages;
      const subject = n.subject(opts.partition);
      const si = await this.jsm.streams.info(n.stream, { subjects_filter: subject }).catch((e: unknown) => this.rethrow(e, name));
      return si.state.subjects?.[subject] ?? 0;
    });
  }

  /** Remove the items of the default partition, of `partition`, or of all (`all`). */
  clear(ws: string, name: string, scope: PartitionScope): Effect.Effect<{ readonly cleared: number }, ApiError> {
    const n = queueNames(ws, name);
    return attempt("QueueStore.clear", async () => {
      const r = await this.jsm.streams.purge(n.stream, scope.all ? undefined : { filter: n.subject(scope.partition) }).catch((e: unknown) => this.rethrow(e, name));
      return { cleared: r.purged };
    });
  }

  /** The partition's consumer (idempotent: an existing one with this config is kept). */
  private async ensureConsumer(n: QueueNames, name: string, partition: string | undefined): Promise<void> {
    await this.jsm.consumers.add(n.stream, {
      durable_name: n.consumer(partition), filter_subject: n.subject(partition), ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All, ack_wait: nanos(QUEUE_ACK_WAIT_MS), max_ack_pending: -1, max_waiting: MAX_WAITING_GETS,
      inactive_threshold: nanos(QUEUE_CONSUMER_IDLE_MS),
    }).catch((e: unknown) => this.rethrow(e, name));
  }

  private rethrow(e: unknown, name: string): never {
    if (isMissingStream(e)) throw new NotFoundError({ kind: "queue", id: name });
    throw e;
  }
}
