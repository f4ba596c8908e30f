import { decodeValue, encodeValue, type Encoded } from "@ferry/core/codec";
// The limits module alone: the root entry of @ferry/core would pull its services into app bundles.
import { Limits } from "../../../core/src/limits/limits.ts";
import type { FerryClient } from "../client/ferry-client.ts";
import { deleteStore, StoreHandle, type FromNameOptions } from "./store-handle.ts";

/** Options of `put` and `update`. */
export interface DictPutOptions {
  /** Seconds until the entry expires and reads as absent (at most 30 days); never when left out. */
  readonly ttl?: number;
}

/**
 * A named, persistent key-value store shared by every process of the workspace, inside
 * containers and out. Keys are strings (1–512 UTF-8 bytes, no control characters); values are
 * structured values (as function arguments: `Date`, `Map`, `BigInt`, `Uint8Array`… round-trip),
 * up to 1 MiB encoded each, and up to 100,000 keys per Dict. A Dict of another workspace with the
 * same name is a different Dict.
 *
 * @example
 * ```ts
 * const cache = Dict.fromName<number>("scores", { createIfMissing: true });
 * await cache.put("alice", 42, { ttl: 3600 });
 * await cache.get("alice"); // 42
 * await cache.get("bob", 0); // 0: missing
 * for (const key of await cache.keys()) console.log(key);
 * ```
 */
export class Dict<V = unknown> {
  private readonly handle: StoreHandle;

  private constructor(handle: StoreHandle) {
    this.handle = handle;
  }

  /** The Dict named `name` (checked on first use; `createIfMissing` creates it then). */
  static fromName<V = unknown>(name: string, options: FromNameOptions = {}): Dict<V> {
    return new Dict<V>(new StoreHandle("dicts", name, options));
  }

  /** Delete the Dict named `name` and all its entries. */
  static delete(name: string, options: { readonly client?: FerryClient } = {}): Promise<void> {
    return deleteStore("dicts", name, options.client);
  }

  get name(): string {
    return this.handle.name;
  }

  /** The value under `key`, or `defaultValue` (undefined) when it is missing or expired. */
  async get(key: string): Promise<V | undefined>;
  async get<D>(key: string, defaultValue: D): Promise<V | D>;
  async get<D>(key: string, defaultValue?: D): Promise<V | D | undefined> {
    const r = await this.handle.request<{ found: boolean; value?: Encoded }>("POST", "/get", { key });
    return r.found ? decodeValue(r.value as Encoded, "value") as V : defaultValue;
  }

  /** Store `value` under `key`, replacing what was there; `ttl` in seconds. */
  async put(key: string, value: V, options: DictPutOptions = {}): Promise<void> {
    await this.handle.request("POST", "/put", { entries: [{ key, value: encodeValue(value, "value") }], ttl: options.ttl });
  }

  /**
   * Store many entries. Each request carries up to 5,000 (`maxStoreItemsPerRequest`) and is
   * written whole or not at all; larger updates are several requests.
   */
  async update(entries: Readonly<Record<string, V>> | Iterable<readonly [string, V]>, options: DictPutOptions = {}): Promise<void> {
    const list = Symbol.iterator in entries ? [...entries as Iterable<readonly [string, V]>] : Object.entries(entries as Record<string, V>);
    const encoded = list.map(([key, value]) => ({ key, value: encodeValue(value, `entries[${JSON.stringify(key)}]`) }));
    for (let i = 0; i < encoded.length; i += Limits.maxStoreItemsPerRequest) {
      await this.handle.request("POST", "/put", { entries: encoded.slice(i, i + Limits.maxStoreItemsPerRequest), ttl: options.ttl });
    }
  }

  /** Remove `key`; resolves whether it was there. */
  async delete(key: string): Promise<boolean> {
    return (await this.handle.request<{ deleted: boolean }>("POST", "/delete", { key })).deleted;
  }

  /** Whether `key` is present (and not expired). */
  async has(key: string): Promise<boolean> {
    return (await this.handle.request<{ found: boolean }>("POST", "/has", { key })).found;
  }

  /** Every live key, as an array, in no guaranteed order (last written last, in practice). */
  async keys(): Promise<string[]> {
    return [...(await this.handle.request<{ keys: string[] }>("GET", "/keys")).keys];
  }

  /** How many live keys the Dict has. */
  async len(): Promise<number> {
    return (await this.handle.request<{ len: number }>("GET", "")).len;
  }

  /** Remove every entry. */
  async clear(): Promise<void> {
    await this.handle.request("POST", "/clear");
  }
}
