import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, openLibsql } from "@ferry/core/node";
import { jetstreamManager } from "@nats-io/jetstream";
import { STATE_STREAM, StateReplica } from "../src/replication/state-replica.ts";
import { publishStateSnapshot } from "../src/replication/state-snapshots.ts";
import { openStateClient } from "../src/replication/open-state-client.ts";
import { isWriteStatement } from "../src/replication/log-entry.ts";
import { startNatsCluster, type RunningNatsCluster } from "../../sdk/src/platform/nats-cluster.ts";

let dir: string;
let cluster: RunningNatsCluster;
const opened: Array<{ replica: StateReplica; nc: NatsConnection; local: Client }> = [];

const openReplica = async (name: string, urls = cluster.urls) => {
  const local = await openLibsql(`file:${join(dir, `${name}.db`)}`);
  await local.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB, n INTEGER)");
  const nc = await connectNats(urls, `test-${name}`);
  const replica = await StateReplica.open({ local, nc, origin: name, replicas: 3 });
  opened.push({ replica, nc, local });
  return replica;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-replica-"));
  cluster = await startNatsCluster(join(dir, "nats"), "ferry-state", ["a", "b", "c"]);
}, 60_000);

afterAll(async () => {
  for (const o of opened) {
    await o.replica.close();
    await o.nc.close().catch(() => undefined);
    o.local.close();
  }
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("StateReplica", () => {
  it("classifies statements: reads stay local, everything else is a write", () => {
    expect(isWriteStatement("SELECT 1")).toBe(false);
    expect(isWriteStatement("  -- note\n select * from apps")).toBe(false);
    expect(isWriteStatement("WITH x AS (SELECT 1) SELECT * FROM x")).toBe(false);
    expect(isWriteStatement("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")).toBe(true);
    expect(isWriteStatement({ sql: "INSERT INTO t VALUES (?)", args: [1] })).toBe(true);
    expect(isWriteStatement("PRAGMA table_info(apps)")).toBe(false);
    expect(isWriteStatement("UPDATE t SET a = 1")).toBe(true);
  });

  it("a write through one replica is readable from it at once and from another soon after, values exact", async () => {
    const a = await openReplica("r1");
    const b = await openReplica("r2");
    const blob = new Uint8Array([0, 1, 2, 255]);
    await a.client.execute({ sql: "INSERT INTO kv (k, v, n) VALUES (?, ?, ?)", args: ["x", blob, 9007199254740993n] });
    const own = await a.client.execute({ sql: "SELECT v, CAST(n AS TEXT) AS n FROM kv WHERE k = ?", args: ["x"] });
    expect(own.rows).toHaveLength(1);
    expect(await b.waitForSeq(a.appliedSeq, 5_000)).toBe(true);
    const other = await b.client.execute({ sql: "SELECT v, CAST(n AS TEXT) AS n FROM kv WHERE k = ?", args: ["x"] });
    expect(new Uint8Array(other.rows[0]!.v as ArrayBuffer)).toEqual(blob);
    expect(other.rows[0]!.n).toBe("9007199254740993");
    expect(own.rows[0]!.n).toBe("9007199254740993");
  });

  it("conditional writes have exactly one winner across replicas", async () => {
    const a = await openReplica("r3");
    const b = await openReplica("r4");
    const claim = (r: StateReplica) => r.client.execute({ sql: "INSERT INTO kv (k, n) VALUES ('tick', 1) ON CONFLICT(k) DO NOTHING", args: [] });
    const results = await Promise.all([claim(a), claim(b), claim(a), claim(b)]);
    expect(results.map((r) => r.rowsAffected).reduce((x, y) => x + y, 0)).toBe(1);
  });

  it("a failing batch is applied nowhere and rejects its writer with the SQLite error", async () => {
    const a = await openReplica("r5");
    const b = await openReplica("r6");
    await expect(a.client.batch([
      { sql: "INSERT INTO kv (k, n) VALUES ('half', 1)", args: [] },
      { sql: "INSERT INTO missing_table VALUES (1)", args: [] },
    ], "write")).rejects.toThrow(/no such table/);
    await b.waitForSeq(a.appliedSeq, 5_000);
    for (const r of [a, b]) expect((await r.client.execute("SELECT count(*) AS c FROM kv WHERE k = 'half'")).rows[0]!.c).toBe(0);
  });

  it("a replica opened later catches up with every earlier write; one server down, writes go on", async () => {
    const a = await openReplica("r7");
    for (let i = 0; i < 20; i++) await a.client.execute({ sql: "INSERT INTO kv (k, n) VALUES (?, ?)", args: [`late-${i}`, i] });
    const late = await openReplica("r8");
    expect((await late.client.execute("SELECT count(*) AS c FROM kv WHERE k LIKE 'late-%'")).rows[0]!.c).toBe(20);
    await cluster.members[2]!.stop();
    await a.client.execute({ sql: "INSERT INTO kv (k, n) VALUES (?, ?)", args: ["after-loss", 1] });
    expect(await late.waitForSeq(a.appliedSeq, 10_000)).toBe(true);
    expect((await late.client.execute("SELECT count(*) AS c FROM kv WHERE k = 'after-loss'")).rows[0]!.c).toBe(1);
  }, 60_000);

  it("a new replica starts from the latest snapshot when the log no longer holds the entries before it", async () => {
    // The member the previous test stopped comes back and catches up (the object store needs all three).
    await cluster.restart("c");
    const writer = await openReplica("r9");
    for (let i = 0; i < 10; i++) await writer.client.execute({ sql: "INSERT INTO kv (k, n) VALUES (?, ?)", args: [`snap-${i}`, i] });
    const own = opened.find((o) => o.replica === writer)!;
    const seq = await publishStateSnapshot(own.local, own.nc, { workDir: dir, origin: "r9" });
    expect(seq).toBe(writer.appliedSeq);
    // Trim the log up to the snapshot, as a long-lived platform does.
    const jsm = await jetstreamManager(own.nc);
    await jsm.streams.purge(STATE_STREAM, { seq: seq + 1 });
    await writer.client.execute({ sql: "INSERT INTO kv (k, n) VALUES (?, ?)", args: ["after-snapshot", 1] });
    const fresh = await openStateClient({ databaseUrl: `file:${join(dir, "fresh", "state.db")}`, replication: { natsUrls: cluster.urls, origin: "fresh", replicas: 3 } });
    try {
      expect(fresh.replica!.appliedSeq).toBeGreaterThanOrEqual(writer.appliedSeq);
      const rs = await fresh.client.execute("SELECT count(*) AS c FROM kv WHERE k LIKE 'snap-%' OR k = 'after-snapshot'");
      expect(rs.rows[0]!.c).toBe(11);
    } finally {
      await fresh.close();
    }
    // Without the snapshot, a new replica cannot follow a log whose start it missed: a clear error.
    const local = await openLibsql(`file:${join(dir, "no-snapshot.db")}`);
    const nc = await connectNats(cluster.urls, "no-snapshot");
    await expect(StateReplica.open({ local, nc, origin: "no-snapshot" })).rejects.toThrow(/the log now starts at \d+: restore the latest snapshot/);
    await nc.close();
    local.close();
  }, 60_000);
});
