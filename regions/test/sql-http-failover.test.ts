import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient as createFileClient, type Client } from "@libsql/client";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isUnreachableError, openLibsqlRemote } from "@ferry/core";
import { listenHttp, type ListeningHttp } from "@ferry/core/node";
import { sqlHttpRoutes } from "../src/sql-http/index.ts";

/** An edge given every region's SQL endpoint keeps its state when the region it used goes. */

const TOKEN = "internal-token-for-tests";
let dir: string;
const dbs: Client[] = [];
const servers: ListeningHttp[] = [];

const region = async (name: string) => {
  const db = createFileClient({ url: `file:${join(dir, `${name}.db`)}` });
  await db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)");
  await db.execute({ sql: "INSERT INTO kv VALUES ('served-by', ?)", args: [name] });
  dbs.push(db);
  const http = await listenHttp(new Hono().route("/", sqlHttpRoutes({ executor: db, authToken: TOKEN })).fetch, "127.0.0.1", 0);
  servers.push(http);
  return http;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-sql-failover-"));
});
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  for (const d of dbs) d.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a remote state client over several regions' endpoints", () => {
  it("uses the first, moves to the next when it stops answering, and never retries a SQL error elsewhere", async () => {
    const a = await region("us-east");
    const b = await region("eu-west");
    const client = openLibsqlRemote({ url: `${a.url},${b.url}`, authToken: TOKEN });
    const servedBy = async () => String((await client.execute("SELECT v FROM kv WHERE k = 'served-by'")).rows[0]!.v);
    expect(await servedBy()).toBe("us-east");
    await a.close();
    expect(await servedBy()).toBe("eu-west");
    // It stays on the copy that answered.
    expect(await servedBy()).toBe("eu-west");
    const sqlError = await client.execute("SELECT * FROM no_such_table").catch((e: unknown) => e);
    expect(String(sqlError)).toMatch(/no such table/);
    expect(isUnreachableError(sqlError)).toBe(false);
    client.close();
  });

  it("refuses a URL list with a non-network URL, naming it", () => {
    expect(() => openLibsqlRemote({ url: "http://127.0.0.1:1,file:/tmp/x.db" })).toThrow(/"file:\/tmp\/x.db"/);
  });
});
