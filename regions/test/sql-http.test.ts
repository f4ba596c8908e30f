import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient as createFileClient, type Client } from "@libsql/client";
import { createClient as createWebClient, LibsqlBatchError, LibsqlError } from "@libsql/client/web";
import { Hono } from "hono";
import { Limits } from "@ferry/core";
import { listenHttp, type ListeningHttp } from "@ferry/core/node";
import { sqlHttpRoutes, type SqlHttpOptions } from "../src/sql-http/index.ts";

/**
 * A region's SQL-over-HTTP endpoint, spoken to by the real `@libsql/client/web` (the client a
 * Worker uses) and by raw Hrana pipelines, over a real libSQL file.
 */

const TOKEN = "internal-token-for-tests";
let dir: string;
let executor: Client;
const servers: ListeningHttp[] = [];

const serve = async (opts: Partial<SqlHttpOptions> = {}): Promise<string> => {
  const app = new Hono().route("/", sqlHttpRoutes({ executor, authToken: TOKEN, ...opts }));
  const http = await listenHttp(app.fetch, "127.0.0.1", 0);
  servers.push(http);
  return http.url;
};

const pipeline = async (url: string, body: unknown, token = TOKEN) => {
  const res = await fetch(`${url}/v2/pipeline`, {
    method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as Record<string, any> };
};

let url: string;
let remote: Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-sql-http-"));
  executor = createFileClient({ url: `file:${join(dir, "state.db")}`, intMode: "bigint" });
  await executor.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v)");
  url = await serve();
  remote = createWebClient({ url, authToken: TOKEN, intMode: "bigint" });
});
afterAll(async () => {
  remote?.close();
  for (const s of servers) await s.close();
  executor?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the libSQL web client against a region's endpoint", () => {
  it("round-trips null, 64-bit integers, floats, text and blobs with their SQLite types", async () => {
    const blob = new Uint8Array([0, 1, 2, 250, 255]);
    await remote.execute({ sql: "INSERT INTO kv (k, v) VALUES ('null', ?), ('int', ?), ('float', ?), ('text', ?), ('blob', ?)", args: [null, 9_007_199_254_740_993n, 2.5, "héllo ✓", blob] });
    const rs = await remote.execute("SELECT k, v, typeof(v) AS t FROM kv ORDER BY k");
    const byKey = Object.fromEntries(rs.rows.map((r) => [r.k as string, { v: r.v, t: r.t }]));
    expect(byKey.null).toEqual({ v: null, t: "null" });
    expect(byKey.int).toEqual({ v: 9_007_199_254_740_993n, t: "integer" });
    expect(byKey.float).toEqual({ v: 2.5, t: "real" });
    expect(byKey.text).toEqual({ v: "héllo ✓", t: "text" });
    expect(byKey.blob.t).toBe("blob");
    expect(new Uint8Array(byKey.blob.v as ArrayBuffer)).toEqual(blob);
    expect(rs.columns).toEqual(["k", "v", "t"]);
  });

  it("reports rows affected and the last rowid, and binds named arguments", async () => {
    const ins = await remote.execute({ sql: "INSERT INTO kv (k, v) VALUES (:k, $v)", args: { k: "named", v: 7 } });
    expect(ins.rowsAffected).toBe(1);
    expect(typeof ins.lastInsertRowid).toBe("bigint");
    const rs = await remote.execute({ sql: "SELECT v FROM kv WHERE k = @k", args: { k: "named" } });
    expect(rs.rows[0].v).toBe(7);
  });

  it("runs a batch in one transaction and returns each statement's result", async () => {
    const [a, b, sel] = await remote.batch([
      { sql: "INSERT INTO kv (k, v) VALUES (?, ?)", args: ["b1", 1] },
      { sql: "INSERT INTO kv (k, v) VALUES (?, ?)", args: ["b2", 2] },
      "SELECT count(*) AS n FROM kv WHERE k LIKE 'b_'",
    ], "write");
    expect([a.rowsAffected, b.rowsAffected]).toEqual([1, 1]);
    expect(sel.rows[0].n).toBe(2n);
  });

  it("rolls a failing batch back whole and names the statement and SQLite's error, as a local client does", async () => {
    const stmts = [
      { sql: "INSERT INTO kv (k, v) VALUES (?, ?)", args: ["r1", 1] },
      { sql: "INSERT INTO kv (k, v) VALUES (?, ?)", args: ["r1", 2] },
    ];
    const err = await remote.batch(stmts, "write").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LibsqlBatchError);
    expect((err as LibsqlBatchError).statementIndex).toBe(1);
    expect((err as LibsqlBatchError).code).toBe("SQLITE_CONSTRAINT");
    expect((err as Error).message).toContain("UNIQUE constraint failed: kv.k");
    const local = await executor.batch(stmts, "write").then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toBe((local as Error).message);
    const rs = await remote.execute("SELECT count(*) AS n FROM kv WHERE k = 'r1'");
    expect(rs.rows[0].n).toBe(0n);
  });

  it("answers a bad statement with SQLite's code and message", async () => {
    const err = await remote.execute("SELECT * FROM nope").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LibsqlError);
    expect((err as LibsqlError).code).toBe("SQLITE_ERROR");
    expect((err as Error).message).toBe("SQLITE_ERROR: no such table: nope");
  });

  it("refuses to hold a transaction open between statements", async () => {
    const err = await remote.execute("BEGIN IMMEDIATE").then(() => undefined, (e: unknown) => e);
    expect((err as LibsqlError).code).toBe("NOT_SUPPORTED");
    expect((err as Error).message).toContain("send the statements as one batch");
    const tx = await remote.transaction("write");
    const txErr = await tx.execute("SELECT 1").then(() => undefined, (e: unknown) => e);
    expect((txErr as LibsqlError).code).toBe("NOT_SUPPORTED");
    tx.close();
    // The shared connection is still in autocommit: a later write commits on its own.
    await remote.execute({ sql: "INSERT INTO kv (k, v) VALUES ('after-begin', 1)" });
    expect((await executor.execute("SELECT count(*) AS n FROM kv WHERE k = 'after-begin'")).rows[0].n).toBe(1n);
  });

  it("rejects a missing or wrong token with 401", async () => {
    for (const authToken of [undefined, "wrong"]) {
      const c = createWebClient({ url, authToken });
      const err = await c.execute("SELECT 1").then(() => undefined, (e: unknown) => e);
      expect((err as LibsqlError).code).toBe("UNAUTHORIZED");
      expect((err as Error).message).toContain("missing or wrong bearer token");
      c.close();
    }
    expect((await pipeline(url, { requests: [{ type: "close" }] }, "wrong")).status).toBe(401);
  });
});

describe("Hrana pipelines and batons", () => {
  it("keeps a stream, and what it stored, under a fresh baton per request until it is closed", async () => {
    const first = await pipeline(url, { requests: [{ type: "store_sql", sql_id: 1, sql: "SELECT ? + 1 AS n" }] });
    expect(first.status).toBe(200);
    expect(typeof first.body.baton).toBe("string");
    const second = await pipeline(url, { baton: first.body.baton, requests: [{ type: "execute", stmt: { sql_id: 1, args: [{ type: "integer", value: "41" }], want_rows: true } }, { type: "close" }] });
    expect(second.body.results[0].response.result.rows).toEqual([[{ type: "integer", value: "42" }]]);
    expect(second.body.baton).toBeNull();
    // A spent baton names no stream.
    const again = await pipeline(url, { baton: first.body.baton, requests: [{ type: "close" }] });
    expect(again).toEqual({ status: 400, body: { code: "STREAM_EXPIRED", message: expect.stringContaining("open a new stream") } });
  });

  it("refuses a body that is not a pipeline with HRANA_PROTO_ERROR naming the field", async () => {
    const r = await pipeline(url, { requests: [{ type: "execute", stmt: { sql: "SELECT 1", args: [{ type: "integer", value: "1.5" }] } }] });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("HRANA_PROTO_ERROR");
    expect(r.body.message).toContain("body.requests[0].stmt.args[0]");
  });

  it("answers a statement naming SQL it never stored with SQL_NOT_FOUND, and the rest of the pipeline still runs", async () => {
    const r = await pipeline(url, { requests: [{ type: "execute", stmt: { sql_id: 9 } }, { type: "execute", stmt: { sql: "SELECT 1 AS one" } }, { type: "close" }] });
    expect(r.body.results[0]).toEqual({ type: "error", error: { code: "SQL_NOT_FOUND", message: expect.stringContaining("sql_id 9") } });
    expect(r.body.results[1].response.result.rows).toEqual([[{ type: "integer", value: "1" }]]);
  });

  it("runs a batch that is not a client transaction step by step, on its conditions", async () => {
    const r = await pipeline(url, { requests: [{ type: "batch", batch: { steps: [
      { stmt: { sql: "SELECT * FROM nope" } },
      { condition: { type: "error", step: 0 }, stmt: { sql: "SELECT 'ran' AS x" } },
      { condition: { type: "ok", step: 0 }, stmt: { sql: "SELECT 'skipped' AS x" } },
    ] } }, { type: "close" }] });
    const { step_results, step_errors } = r.body.results[0].response.result;
    expect(step_errors[0]).toEqual({ code: "SQLITE_ERROR", message: "no such table: nope" });
    expect(step_results[1].rows).toEqual([[{ type: "text", value: "ran" }]]);
    expect([step_results[2], step_errors[2]]).toEqual([null, null]);
  });
});

describe("the endpoint's limits", () => {
  it(`refuses a body over maxSqlPipelineBodyBytes (${Limits.maxSqlPipelineBodyBytes} bytes) with 413`, async () => {
    const small = await serve({ maxBodyBytes: 1024 });
    const r = await pipeline(small, { requests: [{ type: "execute", stmt: { sql: `SELECT '${"x".repeat(2048)}'` } }, { type: "close" }] });
    expect(r).toEqual({ status: 413, body: { code: "PAYLOAD_TOO_LARGE", message: "pipeline body over 1024 bytes (maxSqlPipelineBodyBytes)" } });
  });

  it(`keeps at most maxSqlStreams (${Limits.maxSqlStreams}) streams open; closing one makes room`, async () => {
    const one = await serve({ maxStreams: 1 });
    const open = await pipeline(one, { requests: [] });
    expect(typeof open.body.baton).toBe("string");
    const refused = await pipeline(one, { requests: [] });
    expect(refused).toEqual({ status: 503, body: { code: "TOO_MANY_STREAMS", message: expect.stringContaining("maxSqlStreams") } });
    // A one-shot pipeline (closed in the same request) needs no room.
    expect((await pipeline(one, { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }, { type: "close" }] })).status).toBe(200);
    await pipeline(one, { baton: open.body.baton, requests: [{ type: "close" }] });
    expect(typeof (await pipeline(one, { requests: [] })).body.baton).toBe("string");
  });

  it(`drops a stream idle past sqlStreamIdleMs (${Limits.sqlStreamIdleMs} ms); its baton then fails`, async () => {
    let now = 1_000_000;
    const clocked = await serve({ streamIdleMs: 5_000, now: () => now });
    const open = await pipeline(clocked, { requests: [] });
    now += 4_000;
    const kept = await pipeline(clocked, { baton: open.body.baton, requests: [] });
    expect(kept.status).toBe(200);
    now += 5_001;
    expect((await pipeline(clocked, { baton: kept.body.baton, requests: [] })).body.code).toBe("STREAM_EXPIRED");
  });

  it(`holds at most maxSqlStoredPerStream (${Limits.maxSqlStoredPerStream}) SQL texts on one stream`, async () => {
    const two = await serve({ maxStoredSqlPerStream: 2 });
    const r = await pipeline(two, { requests: [1, 2, 3].map((id) => ({ type: "store_sql", sql_id: id, sql: "SELECT 1" })).concat([{ type: "close_sql", sql_id: 1 } as never, { type: "store_sql", sql_id: 4, sql: "SELECT 1" } as never, { type: "close" } as never]) });
    expect(r.body.results.map((x: { type: string }) => x.type)).toEqual(["ok", "ok", "error", "ok", "ok", "ok"]);
    expect(r.body.results[2].error.code).toBe("TOO_MANY_STORED_SQL");
  });
});
