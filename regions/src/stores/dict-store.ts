import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { ConflictError, Limits, NotFoundError, type ApiError } from "@ferry/core";
import type { Effect } from "effect";
import { EXPIRES_AT_HEADER, expiresAtFor, isAbsent, KV_OPERATION_HEADER } from "./dict-expiry.ts";
import { attempt, isMissingStream, isStreamFull } from "./store-errors.ts";
import { ALL_DICTS_PREFIX, dictNames, dictNamesOfBucket, storePrefixes, type DictNames } from "./store-subjects.ts";

/** Room for the expiry header on top of the largest value. */
const HEADER_ROOM_BYTES = 256;
/** How long a scan of a Dict's keys may take before it gives up. */
const SCAN_TIMEOUT_MS = 30_000;
/** A full Dict is searched for expired entries at most this often (each search reads every key's headers). */
export const FULL_DICT_SWEEP_INTERVAL_MS = 2_000;

/** One stored entry; `value` is as the client sent it (value codec). */
export interface DictEntry { readonly key: string; readonly value: unknown }
/** A Dict as listed. */
export interface DictInfo { readonly name: string; readonly createdAt: number }

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** What a headers-only scan of a Dict finds, at `now`. */
interface Scan { readonly live: string[]; readonly expired: string[] }

/**
 * Dicts on NATS KV: one bucket per workspace and Dict (see `store-subjects.ts`), one message per
 * key. The bucket caps its keys (`max_msgs` with `discard: new`, so a put of a new key into a full
 * Dict is refused atomically while updates still land) and its value size. A TTL is an expiry
 * header (`dict-expiry.ts`): expired entries read as absent and are purged by `sweepExpired`.
 *
 * @example
 * ```ts
 * const dicts = new DictStore(bus.js, bus.jsm);
 * await Effect.runPromise(dicts.put("ws-1", "cache", [{ key: "a", value: 1 }], 60));
 * ```
 */
export class DictStore {
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  /** When each full Dict was last searched for expired entries. */
  private readonly fullSweeps = new Map<string, number>();

  /** Copies of each Dict's stream (1 on a region's own NATS; 3 on the replicated state cluster). */
  private readonly replicas: number;

  constructor(js: JetStreamClient, jsm: JetStreamManager, replicas = 1) {
    this.js = js;
    this.jsm = jsm;
    this.replicas = replicas;
  }

  /** Create the Dict if missing; `created` says whether this call made it. */
  ensure(ws: string, name: string): Effect.Effect<{ readonly created: boolean }, ApiError> {
    const n = dictNames(ws, name);
    return attempt("DictStore.ensure", async () => {
      if (await this.exists(n)) return { created: false };
      await this.jsm.streams.add({
        name: n.stream, subjects: [n.all], retention: RetentionPolicy.Limits, storage: StorageType.File,
        max_msgs_per_subject: 1, max_msgs: Limits.maxDictKeys, discard: DiscardPolicy.New,
        max_msg_size: Limits.maxDictValueBytes + HEADER_ROOM_BYTES, allow_direct: true, allow_rollup_hdrs: true,
        deny_delete: false, deny_purge: false, num_replicas: this.replicas,
      });
      return { created: true };
    });
  }

  /** The Dict's creation time and live key count; `NotFoundError` when missing. */
  info(ws: string, name: string): Effect.Effect<DictInfo & { readonly len: number }, ApiError> {
    const n = dictNames(ws, name);
    return attempt("DictStore.info", async () => {
      const si = await this.jsm.streams.info(n.stream).catch((e: unknown) => this.rethrow(e, name));
      const { live } = await this.scan(n, name);
      return { name, createdAt: Date.parse(si.created), len: live.length };
    });
  }

  /** The workspace's Dicts, by name. */
  list(ws: string): Effect.Effect<ReadonlyArray<DictInfo>, ApiError> {
    const prefix = storePrefixes(ws).dict;
    return attempt("DictStore.list", async () => {
      const out: DictInfo[] = [];
      for await (const si of this.jsm.streams.list()) {
        if (si.config.name.startsWith(prefix)) out.push({ name: si.config.name.slice(prefix.length), createdAt: Date.parse(si.created) });
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  /** Delete the Dict and all its keys. */
  remove(ws: string, name: string): Effect.Effect<void, ApiError> {
    return attempt("DictStore.remove", async () => {
      await this.jsm.streams.delete(dictNames(ws, name).stream).catch((e: unknown) => this.rethrow(e, name));
    });
  }

  /** The value under `key`, or `found: false` (missing or expired). */
  get(ws: string, name: string, key: string): Effect.Effect<{ readonly found: boolean; readonly value?: unknown }, ApiError> {
    const n = dictNames(ws, name);
    return attempt("DictStore.get", async () => {
      const m = await this.jsm.streams.getMessage(n.stream, { last_by_subj: n.subject(key) }).catch((e: unknown) => this.rethrow(e, name));
      if (!m) return { found: false };
      if (this.absent(m.header)) {
        void this.purgeKeys(n, [key]).catch(() => undefined);
        return { found: false };
      }
      return { found: true, value: JSON.parse(fromUtf8.decode(m.data)) as unknown };
    });
  }

  /**
   * Write entries, each expiring `ttlS` seconds from now when given. New keys beyond
   * `maxDictKeys` are refused with a `ConflictError` once expired entries are purged; with
   * several entries the room is checked first, so a refused write writes none of them.
   */
  put(ws: string, name: string, entries: ReadonlyArray<DictEntry>, ttlS?: number): Effect.Effect<{ readonly written: number }, ApiError> {
    const n = dictNames(ws, name);
    return attempt("DictStore.put", async () => {
      if (entries.length > 1) await this.makeRoom(n, name, entries.map((e) => e.key));
      const expiresAt = expiresAtFor(ttlS, Date.now());
      let results = await Promise.allSettled(entries.map((e) => this.publish(n, e, expiresAt)));
      const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      if (failed.some(isMissingStream)) throw new NotFoundError({ kind: "dict", id: name });
      if (failed.length > 0 && failed.every(isStreamFull)) {
        // Expired entries still hold their slots until purged: purge, then try once more.
        if (!(await this.sweepFull(n))) throw this.full(name, entries.length - failed.length);
        const retry = entries.filter((_, i) => results[i]!.status === "rejected");
        results = await Promise.allSettled(retry.map((e) => this.publish(n, e, expiresAt)));
        const still = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
        if (still.some(isStreamFull)) throw this.full(name, entries.length - still.length);
        if (still.length > 0) throw still[0];
      } else if (failed.length > 0) throw failed[0];
      return { written: entries.length };
    });
  }

  /** Remove `key`; `deleted` says whether it was there (and not expired). */
  delete(ws: string, name: string, key: string): Effect.Effect<{ readonly deleted: boolean }, ApiError> {
    const n = dictNames(ws, name);
    return attempt("DictStore.delete", async () => {
      const m = await this.jsm.streams.getMessage(n.stream, { last_by_subj: n.subject(key) }).catch((e: unknown) => this.rethrow(e, name));
      if (!m) return { deleted: false };
      await this.purgeKeys(n, [key]);
      return { deleted: !this.absent(m.header) };
    });
  }

  /** The live keys, in the order they were last written. */
  keys(ws: string, name: string): Effect.Effect<ReadonlyArray<string>, ApiError> {
    return attempt("DictStore.keys", async () => (await this.scan(dictNames(ws, name), name)).live);
  }

  /** Remove every key; `cleared` counts the entries removed (expired ones included). */
  clear(ws: string, name: string): Effect.Effect<{ readonly cleared: number }, ApiError> {
    return attempt("DictStore.clear", async () => {
      const r = await this.jsm.streams.purge(dictNames(ws, name).stream).catch((e: unknown) => this.rethrow(e, name));
      return { cleared: r.purged };
    });
  }

  /** Purge the expired entries of every Dict on this NATS; returns how many were purged. */
  async sweepExpired(): Promise<number> {
    let purged = 0;
    const streams: string[] = [];
    for await (const name of this.jsm.streams.names()) if (name.startsWith(ALL_DICTS_PREFIX)) streams.push(name);
    for (const stream of streams) purged += await this.sweepDict(dictNamesOfBucket(stream.slice("KV_".length))).catch(() => 0);
    return purged;
  }

  /** Purge a full Dict's expired entries, unless that was done within `FULL_DICT_SWEEP_INTERVAL_MS`; whether it ran. */
  private async sweepFull(n: DictNames): Promise<boolean> {
    const now = Date.now();
    if (now - (this.fullSweeps.get(n.stream) ?? 0) < FULL_DICT_SWEEP_INTERVAL_MS) return false;
    this.fullSweeps.set(n.stream, now);
    await this.sweepDict(n);
    return true;
  }

  private async sweepDict(n: DictNames): Promise<number> {
    const { expired } = await this.scanSubjects(n);
    await Promise.all(expired.map((subject) => this.jsm.streams.purge(n.stream, { filter: subject })));
    return expired.length;
  }

  private exists(n: DictNames): Promise<boolean> {
    return this.jsm.streams.info(n.stream).then(() => true, (e: unknown) => (isMissingStream(e) ? false : Promise.reject(e)));
  }

  private publish(n: DictNames, e: DictEntry, expiresAt: number | undefined) {
    let h: MsgHdrs | undefined;
    if (expiresAt !== undefined) {
      h = natsHeaders();
      h.set(EXPIRES_AT_HEADER, String(expiresAt));
    }
    return this.js.publish(n.subject(e.key), utf8.encode(JSON.stringify(e.value)), { headers: h, expect: { streamName: n.stream } });
  }

  /** Before a multi-key write: refuse it whole if its new keys do not fit, even after a purge. */
  private async makeRoom(n: DictNames, name: string, keys: ReadonlyArray<string>): Promise<void> {
    const count = async () => (await this.jsm.streams.info(n.stream).catch((e: unknown) => this.rethrow(e, name))).state.messages;
    const unique = [...new Set(keys)];
    if ((await count()) + unique.length <= Limits.maxDictKeys) return;
    const present = await Promise.all(unique.map((k) => this.jsm.streams.getMessage(n.stream, { last_by_subj: n.subject(k) })));
    const fresh = present.filter((m) => !m).length;
    if ((await count()) + fresh <= Limits.maxDictKeys) return;
    await this.sweepFull(n);
    const after = await count();
    if (after + fresh > Limits.maxDictKeys) throw this.full(name, 0, after, fresh);
  }

  private full(name: string, written: number, has?: number, adding?: number): ConflictError {
    const what = has === undefined ? "" : ` (it has ${has} keys; this write adds ${adding})`;
    const partial = written > 0 ? `; ${written} of the entries were written` : "";
    return new ConflictError({ message: `dict ${name} is full: at most ${Limits.maxDictKeys} keys (maxDictKeys)${what}${partial}; delete keys or clear it` });
  }

  private async purgeKeys(n: DictNames, keys: ReadonlyArray<string>): Promise<void> {
    await Promise.all(keys.map((k) => this.jsm.streams.purge(n.stream, { filter: n.subject(k) })));
  }

  private absent(h: MsgHdrs | undefined, now = Date.now()): boolean {
    return isAbsent({ expiresAt: h?.get(EXPIRES_AT_HEADER), operation: h?.get(KV_OPERATION_HEADER) }, now);
  }

  private async scan(n: DictNames, name: string): Promise<Scan> {
    try {
      const { live, expired } = await this.scanSubjects(n);
      return { live: live.map(n.keyOf), expired: expired.map(n.keyOf) };
    } catch (e) {
      return this.rethrow(e, name);
    }
  }

  /** Every entry's subject, read headers-only (the last message per subject), split by expiry. */
  private async scanSubjects(n: DictNames): Promise<{ live: string[]; expired: string[] }> {
    const live: string[] = [];
    const expired: string[] = [];
    const consumer = await this.js.consumers.getPushConsumer(n.stream, {
      deliver_policy: DeliverPolicy.LastPerSubject, headers_only: true, filter_subjects: n.all,
    });
    const info = await consumer.info();
    if (info.num_pending === 0) {
      await consumer.delete().catch(() => undefined);
      return { live, expired };
    }
    const now = Date.now();
    const messages = await consumer.consume();
    const timer = setTimeout(() => void messages.stop(), SCAN_TIMEOUT_MS);
    try {
      for await (const m of messages) {
        (this.absent(m.headers, now) ? expired : live).push(m.subject);
        if (m.info.pending === 0) break;
      }
    } finally {
      clearTimeout(timer);
      await messages.stop();
      await consumer.delete().catch(() => undefined);
    }
    return { live, expired };
  }

  private rethrow(e: unknown, name: string): never {
    if (isMissingStream(e)) throw new NotFoundError({ kind: "dict", id: name });
    throw e;
  }
}
