import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Hono } from "hono";
import { Effect } from "effect";
import { openLibsqlRemote, Storage } from "@ferry/core";
import { listenHttp, openLibsql, type ListeningHttp } from "@ferry/core/node";
import { sqlHttpRoutes } from "../src/sql-http/index.ts";

/**
 * Platform storage (what the edge uses) over the remote adapter and a region's endpoint, the
 * executor being a default-mode client like the region's own: what a Worker's edge does.
 */

const TOKEN = "internal-token-for-tests";
let dir: string;
let local: Client;
let http: ListeningHttp;
let storage: Storage["Service"];

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-sql-storage-"));
  local = await openLibsql(`file:${join(dir, "state.db")}`);
  http = await listenHttp(new Hono().route("/", sqlHttpRoutes({ executor: local, authToken: TOKEN })).fetch, "127.0.0.1", 0);
  const remote = openLibsqlRemote({ url: http.url, authToken: TOKEN });
  storage = await run(Effect.gen(function*() {
    return yield* Storage;
  }).pipe(Effect.provide(Storage.layerClient(remote))));
});
afterAll(async () => {
  await http?.close();
  local?.close();
  await rm(dir, { recursive: true, force: true });
});

it("migrates the region's database through the endpoint", async () => {
  const rs = await local.execute("SELECT COUNT(*) AS n FROM schema_migrations");
  expect(Number(rs.rows[0].n)).toBeGreaterThan(0);
});

it("creates, resolves and revokes tokens", async () => {
  const ws = await run(storage.ensureWorkspace("remote"));
  const { token, secret } = await run(storage.createToken(ws.id, "ci"));
  expect(await run(storage.resolveToken(secret))).toEqual({ workspaceId: ws.id, tokenId: token.id });
  expect((await run(storage.listTokens(ws.id))).map((t) => t.name)).toEqual(["ci"]);
  await run(storage.revokeToken(ws.id, token.id));
  expect(await run(storage.resolveToken(secret))).toBeUndefined();
});

it("stores a bundle as a blob and deploys an app in one batch", async () => {
  const ws = await run(storage.ensureWorkspace("remote"));
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
  await run(storage.putBundle("h1", bytes));
  expect(await run(storage.getBundle("h1"))).toEqual(bytes);
  const { app, functions } = await run(storage.deployApp(ws.id, {
    name: "demo", mode: "deployed", bundle: "", functions: [{ name: "square", options: {} }, { name: "cube", options: { minContainers: 1 } }],
  }, "h1"));
  expect(app).toMatchObject({ name: "demo", state: "running", bundleHash: "h1" });
  expect(functions.map((f) => f.name).sort()).toEqual(["cube", "square"]);
  const found = await run(storage.lookupFunction(ws.id, "demo", "square"));
  expect(found.id).toBe(functions.find((f) => f.name === "square")!.id);
  expect((await run(storage.listWarmFunctions())).map((f) => f.name)).toEqual(["cube"]);
  expect(typeof app.createdAt).toBe("number");
});
