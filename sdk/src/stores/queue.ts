import { decodeValue, encodeValue, type Encoded } from "@ferry/core/codec";
// The limits module alone: the root entry of @ferry/core would pull its services into app bundles.
import { Limits } from "../../../core/src/limits/limits.ts";
import type { FerryClient } from "../client/ferry-client.ts";
import { deleteStore, StoreHandle, type FromNameOptions } from "./store-handle.ts";

/** Which partition an operation uses: the default one unless `partition` names another. */
export interface PartitionOptions {
  /** A partition key: any string of 1–64 UTF-8 bytes without control characters. */
  readonly partition?: string;
}

/** Options of `get` and `getMany`. */
export interface QueueGetOptions extends PartitionOptions {
  /** Seconds to wait for an item when none is there: 0 answers at once; waits forever when left out. */
  readonly timeout?: number;
}

/** Longest wait of one request; longer waits are several (the platform answers within `maxWaitMs`). */
const REQUEST_WAIT_S = Limits.maxWaitMs / 1000;

/**
 * A named, persistent FIFO queue shared by every process of the workspace, inside containers and
 * out. Items are structured values (as function arguments) up to 1 MiB encoded; a Queue holds up
 * to 100,000 items, 50,000 per partition. Each partition is its own FIFO, and each item is taken
 * by exactly one getter, however many wait at once. A Queue of another workspace with the same
 * name is a different Queue.
 *
 * @example
 * ```ts
 * const jobs = Queue.fromName<{ url: string }>("jobs", { createIfMissing: true });
 * await jobs.putMany([{ url: "a" }, { url: "b" }]);
 * const next = await jobs.get({ timeout: 10 }); // { url: "a" }, or undefined after 10 s
 * await jobs.len(); // 1
 * ```
 */
export class Queue<V = unknown> {
  private readonly handle: StoreHandle;

  private constructor(handle: StoreHandle) {
    this.handle = handle;
  }

  /** The Queue named `name` (checked on first use; `createIfMissing` creates it then). */
  static fromName<V = unknown>(name: string, options: FromNameOptions = {}): Queue<V> {
    return new Queue<V>(new StoreHandle("queues", name, options));
  }

  /** Delete the Queue named `name` and every item in it. */
  static delete(name: string, options: { readonly client?: FerryClient } = {}): Promise<void> {
    return deleteStore("queues", name, options.client);
  }

  get name(): string {
    return this.handle.name;
  }

  /** Append one item; a full Queue or partition rejects with a 409 `FerryApiError`. */
  async put(value: V, options: PartitionOptions = {}): Promise<void> {
    await this.putMany([value], options);
  }

  /**
   * Append items in order, all or none: a Queue or partition without room for all of them
   * rejects with a 409 and keeps none. At most 5,000 items (`maxStoreItemsPerRequest`) at once.
   */
  async putMany(values: Iterable<V>, options: PartitionOptions = {}): Promise<void> {
    const encoded = [...values].map((v, i) => encodeValue(v, `values[${i}]`));
    if (encoded.length === 0) return;
    await this.handle.request("POST", "/put", { values: encoded, partition: options.partition });
  }

  /** Take the oldest item, waiting up to `timeout` seconds for one; `undefined` when none came. */
  async get(options: QueueGetOptions = {}): Promise<V | undefined> {
    const [first] = await this.getMany(1, options);
    return first;
  }

  /**
   * Take up to `n` of the oldest items: those there now, else the first to arrive within
   * `timeout` seconds (forever when left out). An empty array when none came.
   */
  async getMany(n: number, options: QueueGetOptions = {}): Promise<V[]> {
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout * 1000;
    for (;;) {
      const timeout = Math.max(0, Math.min(REQUEST_WAIT_S, (deadline - Date.now()) / 1000));
      const r = await this.handle.request<{ values: Encoded[] }>("POST", "/get", { n, timeout, partition: options.partition });
      if (r.values.length > 0) return r.values.map((v, i) => decodeValue(v, `values[${i}]`) as V);
      if (Date.now() >= deadline) return [];
    }
  }

  /** Items in the default partition, in `partition`, or in all partitions (`total`). */
  async len(options: PartitionOptions & { readonly total?: boolean } = {}): Promise<number> {
    const q = new URLSearchParams();
    if (options.partition !== undefined) q.set("partition", options.partition);
    if (options.total) q.set("total", "1");
    return (await this.handle.request<{ len: number }>("GET", `/len?${q}`)).len;
  }

  /** Remove the items of the default partition, of `partition`, or of every partition (`all`). */
  async clear(options: PartitionOptions & { readonly all?: boolean } = {}): Promise<void> {
    await this.handle.request("POST", "/clear", { partition: options.partition, all: options.all });
  }
}
