/**
 * Snapshots of the replicated state, so a new region (or one that fell behind the log's retained
 * entries) starts from a copy of a replica's database and replays only the log after it. A
 * snapshot is a whole libSQL file (`VACUUM INTO`, a consistent copy) in a NATS object store kept
 * on the state cluster, with the log sequence it holds in its description.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Client } from "@libsql/client";
import type { NatsConnection } from "@nats-io/transport-node";
import { Objm, StorageType, type ObjectStore } from "@nats-io/obj";
import { jetstreamManager } from "@nats-io/jetstream";
import { openLibsql } from "@ferry/core/node";
import { STATE_STREAM } from "./state-replica.ts";

/** The object store bucket of state snapshots. */
export const STATE_SNAPSHOT_BUCKET = "FERRY_STATE_SNAPSHOTS";
/** The object holding the latest snapshot. */
const LATEST = "latest";
/** A replica publishes a snapshot after applying this many entries past the latest one. */
export const STATE_SNAPSHOT_EVERY_ENTRIES = 1_000;
/** Entries the log keeps behind the latest snapshot (a replica further behind restores the snapshot). */
export const STATE_LOG_KEEP_ENTRIES = 100_000;

/** What a snapshot's description records. */
interface SnapshotDescription {
  readonly seq: number;
  readonly origin: string;
  readonly at: number;
}

/** The bucket, created on first use (creating needs every replica's server up; opening does not). */
const openBucket = async (nc: NatsConnection, replicas: number): Promise<ObjectStore> => {
  const objm = new Objm(nc);
  return objm.open(STATE_SNAPSHOT_BUCKET).catch(() => objm.create(STATE_SNAPSHOT_BUCKET, { storage: StorageType.File, replicas }));
};

/** The latest snapshot's sequence, or 0 when there is none. */
export const latestSnapshotSeq = async (nc: NatsConnection, replicas = 3): Promise<number> => {
  const info = await (await openBucket(nc, replicas)).info(LATEST);
  if (!info || info.deleted) return 0;
  try {
    return (JSON.parse(info.description ?? "{}") as SnapshotDescription).seq ?? 0;
  } catch {
    return 0;
  }
};

/**
 * Copy `local` (a replica's database, read consistently) into the object store, then trim the log
 * to `STATE_LOG_KEEP_ENTRIES` behind the snapshot. Returns the snapshot's sequence.
 *
 * @example
 * ```ts
 * const seq = await publishStateSnapshot(local, nc, { workDir: dataDir, origin: "us-east" });
 * ```
 */
export const publishStateSnapshot = async (
  local: Client, nc: NatsConnection, opts: { readonly workDir: string; readonly origin: string; readonly replicas?: number },
): Promise<number> => {
  const file = join(opts.workDir, `.state-snapshot-${randomBytes(6).toString("hex")}.db`);
  try {
    await local.execute({ sql: "VACUUM INTO ?", args: [file] });
    // The sequence the copy holds is the one recorded inside it.
    const copy = await openLibsql(`file:${file}`);
    let seq: number;
    try {
      seq = Number((await copy.execute("SELECT applied_seq FROM ferry_replica WHERE id = 1")).rows[0]?.applied_seq ?? 0);
    } finally {
      copy.close();
    }
    const bucket = await openBucket(nc, opts.replicas ?? 3);
    const description: SnapshotDescription = { seq, origin: opts.origin, at: Date.now() };
    await bucket.putBlob({ name: LATEST, description: JSON.stringify(description) }, new Uint8Array(await readFile(file)));
    if (seq > STATE_LOG_KEEP_ENTRIES) {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.purge(STATE_STREAM, { seq: seq - STATE_LOG_KEEP_ENTRIES });
    }
    return seq;
  } finally {
    await rm(file, { force: true });
  }
};

/**
 * Make `path` a replica that can follow the log: when it does not exist, or when it is older than
 * the oldest entry the log still holds, replace it with the latest snapshot (the stale file is
 * kept beside it as `.stale`). Returns the sequence restored, or undefined when nothing was done.
 *
 * @example
 * ```ts
 * await restoreStateSnapshot("/var/lib/ferry/us-east/state.db", nc);
 * ```
 */
export const restoreStateSnapshot = async (path: string, nc: NatsConnection, replicas = 3): Promise<number | undefined> => {
  const exists = await stat(path).then(() => true, () => false);
  if (exists) {
    const applied = await appliedSeqOf(path);
    const jsm = await jetstreamManager(nc);
    const first = await jsm.streams.info(STATE_STREAM).then((i) => i.state.first_seq, () => 1);
    if (applied + 1 >= first) return undefined;
  }
  const bucket = await openBucket(nc, replicas);
  const blob = await bucket.getBlob(LATEST);
  if (blob === null) return undefined;
  const tmp = join(dirname(path), `.restore-${randomBytes(6).toString("hex")}.db`);
  await writeFile(tmp, blob);
  if (exists) await rename(path, `${path}.stale`);
  for (const suffix of ["-wal", "-shm"]) await rm(`${path}${suffix}`, { force: true });
  await rename(tmp, path);
  return appliedSeqOf(path);
};

const appliedSeqOf = async (path: string): Promise<number> => {
  const db = await openLibsql(`file:${path}`);
  try {
    const rs = await db.execute("SELECT applied_seq FROM ferry_replica WHERE id = 1").catch(() => undefined);
    return Number(rs?.rows[0]?.applied_seq ?? 0);
  } finally {
    db.close();
  }
};
