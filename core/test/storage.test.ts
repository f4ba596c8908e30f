import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Effect, Result } from "effect";
import { openLibsql } from "../src/storage/libsql-file.ts";
import { Storage } from "../src/storage/storage.ts";
import { Migrations } from "../src/storage/migrations.ts";
import type { DeployRequest } from "../src/domain/manifest.ts";

/** Platform state in a real libSQL file in a temp dir. */

let dir: string;
const clients: Client[] = [];

const open = async (file: string): Promise<Storage["Service"]> => {
  const client = await openLibsql(`file:${join(dir, file)}`);
  clients.push(client);
  return Effect.runPromise(Effect.gen(function*() {
    return yield* Storage;
  }).pipe(Effect.provide(Storage.layerClient(client))));
};

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect);
const fail = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> => {
  const r = await Effect.runPromise(Effect.result(effect));
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)}`);
  return r.failure;
};

const deploy = (name: string, functions: DeployRequest["functions"], mode: DeployRequest["mode"] = "deployed"): DeployRequest => ({
  name, mode, bundle: "", functions,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-storage-"));
});

afterAll(async () => {
  for (const c of clients) c.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("migrations", () => {
  it("apply once, and reopening the same file applies nothing again", async () => {
    const first = await open("migrate.db");
    await run(first.ensureWorkspace("kept"));
    const second = await open("migrate.db");
    const rs = await second.client.execute("SELECT version, name FROM schema_migrations ORDER BY version");
    expect(rs.rows.map((r) => [Number(r.version), String(r.name)])).toEqual(Migrations.map((m) => [m.version, m.name]));
    // Data written before the reopen survives it.
    const again = await run(second.ensureWorkspace("kept"));
    const rows = await second.client.execute("SELECT COUNT(*) AS n FROM workspaces WHERE name = 'kept'");
    expect(Number(rows.rows[0].n)).toBe(1);
    expect(again.name).toBe("kept");
    // A third open is still idempotent.
    const third = await open("migrate.db");
    const count = await third.client.execute("SELECT COUNT(*) AS n FROM schema_migrations");
    expect(Number(count.rows[0].n)).toBe(Migrations.length);
  });

  it("migration versions are strictly increasing", () => {
    const versions = Migrations.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });
});

describe("workspaces and tokens", () => {
  let storage: Storage["Service"];

  beforeAll(async () => {
    storage = await open("tokens.db");
  });

  it("ensureWorkspace is idempotent by name", async () => {
    const a = await run(storage.ensureWorkspace("w"));
    const b = await run(storage.ensureWorkspace("w"));
    expect(b.id).toBe(a.id);
    const other = await run(storage.ensureWorkspace("w2"));
    expect(other.id).not.toBe(a.id);
  });

  it("a token secret is stored only hashed: no column of the tokens table holds it", async () => {
    const ws = await run(storage.ensureWorkspace("hashed"));
    const { token, secret } = await run(storage.createToken(ws.id, "t"));
    expect(secret).toMatch(/^fry_[0-9a-f]{48}$/);
    const rs = await storage.client.execute({ sql: "SELECT * FROM tokens WHERE id = ?", args: [token.id] });
    expect(rs.rows).toHaveLength(1);
    const row = rs.rows[0];
    const hex = secret.slice("fry_".length);
    for (const col of rs.columns) {
      const value = String(row[col]);
      expect(value, col).not.toContain(secret);
      expect(value, col).not.toContain(hex);
    }
    expect(String(row.hash)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("two tokens never share a secret", async () => {
    const ws = await run(storage.ensureWorkspace("unique"));
    const a = await run(storage.createToken(ws.id, "a"));
    const b = await run(storage.createToken(ws.id, "b"));
    expect(a.secret).not.toBe(b.secret);
    expect(a.token.id).not.toBe(b.token.id);
  });

  it("resolveToken resolves a live token to its workspace and token id", async () => {
    const ws = await run(storage.ensureWorkspace("live"));
    const { token, secret } = await run(storage.createToken(ws.id, "t"));
    expect(await run(storage.resolveToken(secret))).toEqual({ workspaceId: ws.id, tokenId: token.id });
  });

  it("resolveToken does not resolve a revoked token, nor an unknown one", async () => {
    const ws = await run(storage.ensureWorkspace("revoked"));
    const { token, secret } = await run(storage.createToken(ws.id, "t"));
    await run(storage.revokeToken(ws.id, token.id));
    expect(await run(storage.resolveToken(secret))).toBeUndefined();
    expect(await run(storage.resolveToken(`fry_${"0".repeat(48)}`))).toBeUndefined();
    const listed = await run(storage.listTokens(ws.id));
    expect(listed.find((t) => t.id === token.id)?.revokedAt).toEqual(expect.any(Number));
  });

  it("a workspace cannot revoke another workspace's token", async () => {
    const owner = await run(storage.ensureWorkspace("owner"));
    const intruder = await run(storage.ensureWorkspace("intruder"));
    const { token, secret } = await run(storage.createToken(owner.id, "t"));
    const err = await fail(storage.revokeToken(intruder.id, token.id));
    expect(err._tag).toBe("NotFoundError");
    expect(await run(storage.resolveToken(secret))).toEqual({ workspaceId: owner.id, tokenId: token.id });
  });

  it("listTokens is scoped to the workspace", async () => {
    const x = await run(storage.ensureWorkspace("list-x"));
    const y = await run(storage.ensureWorkspace("list-y"));
    const tx = await run(storage.createToken(x.id, "tx"));
    await run(storage.createToken(y.id, "ty"));
    const listed = await run(storage.listTokens(x.id));
    expect(listed.map((t) => t.name)).toEqual(["tx"]);
    expect(listed[0]).toEqual({ id: tx.token.id, workspaceId: x.id, name: "tx", createdAt: tx.token.createdAt, revokedAt: null });
  });
});

describe("apps and functions", () => {
  let storage: Storage["Service"];
  let wsA: string;
  let wsB: string;

  beforeAll(async () => {
    storage = await open("apps.db");
    wsA = (await run(storage.ensureWorkspace("a"))).id;
    wsB = (await run(storage.ensureWorkspace("b"))).id;
  });

  it("redeploying an app keeps its id and its function ids, and updates options", async () => {
    const first = await run(storage.deployApp(wsA, deploy("stable", [{ name: "f", options: { cpu: 1 } }, { name: "g", options: {} }]), "h1"));
    const second = await run(storage.deployApp(wsA, deploy("stable", [{ name: "f", options: { cpu: 4, timeout: 10 } }, { name: "g", options: {} }]), "h2"));
    expect(second.app.id).toBe(first.app.id);
    expect(second.app.bundleHash).toBe("h2");
    const ids = (r: typeof first) => Object.fromEntries(r.functions.map((f) => [f.name, f.id]));
    expect(ids(second)).toEqual(ids(first));
    const f = await run(storage.getFunction(ids(first).f));
    expect(f.options).toEqual({ cpu: 4, timeout: 10 });
    expect(f.bundleHash).toBe("h2");
  });

  it("a redeploy that drops a function marks it removed (even if called) and adds the new one", async () => {
    const first = await run(storage.deployApp(wsA, deploy("shrinks", [{ name: "f", options: {} }, { name: "g", options: {} }]), "h"));
    const second = await run(storage.deployApp(wsA, deploy("shrinks", [{ name: "f", options: {} }, { name: "h", options: {} }]), "h"));
    expect(second.functions.map((f) => f.name).sort()).toEqual(["f", "h"]);
    const listed = await run(storage.listFunctions(first.app.id));
    expect(listed.map((f) => f.name)).toEqual(["f", "h"]);
    const g = first.functions.find((f) => f.name === "g")!;
    // Its calls keep pointing at it, so the row stays, marked removed; lookups no longer find it.
    expect((await run(storage.getFunction(g.id))).removed).toBe(true);
    expect((await fail(storage.lookupFunction(wsA, "shrinks", "g")))._tag).toBe("NotFoundError");
    const third = await run(storage.deployApp(wsA, deploy("shrinks", [{ name: "g", options: {} }]), "h"));
    expect(third.functions.find((f) => f.name === "g")?.id).toBe(g.id);
    expect((await run(storage.getFunction(g.id))).removed).toBe(false);
  });

  it("redeploying a stopped app runs it again", async () => {
    const first = await run(storage.deployApp(wsA, deploy("restart", [{ name: "f", options: {} }]), "h"));
    await run(storage.stopApp(wsA, first.app.id));
    expect((await run(storage.getApp(wsA, "restart"))).state).toBe("stopped");
    const err = await fail(storage.lookupFunction(wsA, "restart", "f"));
    expect(err._tag).toBe("ConflictError");
    await run(storage.deployApp(wsA, deploy("restart", [{ name: "f", options: {} }]), "h"));
    expect((await run(storage.getApp(wsA, "restart"))).state).toBe("running");
    expect((await run(storage.lookupFunction(wsA, "restart", "f"))).appState).toBe("running");
  });

  it("stopApp of another workspace's app changes nothing", async () => {
    const d = await run(storage.deployApp(wsA, deploy("guarded", [{ name: "f", options: {} }]), "h"));
    await run(storage.stopApp(wsB, d.app.id));
    expect((await run(storage.getApp(wsA, "guarded"))).state).toBe("running");
  });

  it("lookupFunction finds a deployed app's function", async () => {
    const d = await run(storage.deployApp(wsA, deploy("found", [{ name: "f", options: { memory: 256 } }]), "h"));
    const fn = await run(storage.lookupFunction(wsA, "found", "f"));
    expect(fn).toMatchObject({ id: d.functions[0].id, name: "f", appId: d.app.id, appName: "found", workspaceId: wsA, options: { memory: 256 } });
    expect((await fail(storage.lookupFunction(wsA, "found", "missing")))._tag).toBe("NotFoundError");
  });

  it("lookupFunction does not find functions of ephemeral apps", async () => {
    const d = await run(storage.deployApp(wsA, deploy("eph", [{ name: "f", options: {} }], "ephemeral"), "h"));
    expect(d.app.mode).toBe("ephemeral");
    const err = await fail(storage.lookupFunction(wsA, "eph", "f"));
    expect(err._tag).toBe("NotFoundError");
    // The function itself exists and is reachable by id.
    expect((await run(storage.getFunction(d.functions[0].id))).appName).toBe("eph");
  });

  it("each ephemeral run is its own app, while a deployed name is one app", async () => {
    const e1 = await run(storage.deployApp(wsA, deploy("runs", [{ name: "f", options: {} }], "ephemeral"), "h"));
    const e2 = await run(storage.deployApp(wsA, deploy("runs", [{ name: "f", options: {} }], "ephemeral"), "h"));
    expect(e2.app.id).not.toBe(e1.app.id);
    expect(e2.functions[0].id).not.toBe(e1.functions[0].id);
    const d = await run(storage.deployApp(wsA, deploy("runs", [{ name: "f", options: {} }]), "h"));
    // By name, the deployed app wins over ephemeral ones of that name.
    expect((await run(storage.getApp(wsA, "runs"))).id).toBe(d.app.id);
    expect((await run(storage.lookupFunction(wsA, "runs", "f"))).id).toBe(d.functions[0].id);
  });

  it("lookupFunction and getApp are scoped to the workspace", async () => {
    await run(storage.deployApp(wsA, deploy("scoped", [{ name: "f", options: {} }]), "h"));
    expect((await fail(storage.lookupFunction(wsB, "scoped", "f")))._tag).toBe("NotFoundError");
    expect((await fail(storage.getApp(wsB, "scoped")))._tag).toBe("NotFoundError");
    expect((await run(storage.listApps(wsB))).map((a) => a.name)).not.toContain("scoped");
  });

  it("two workspaces may each deploy an app of the same name, with distinct functions", async () => {
    const a = await run(storage.deployApp(wsA, deploy("same", [{ name: "f", options: { cpu: 1 } }]), "h"));
    const b = await run(storage.deployApp(wsB, deploy("same", [{ name: "f", options: { cpu: 2 } }]), "h"));
    expect(b.app.id).not.toBe(a.app.id);
    expect((await run(storage.lookupFunction(wsA, "same", "f"))).id).toBe(a.functions[0].id);
    expect((await run(storage.lookupFunction(wsB, "same", "f"))).options).toEqual({ cpu: 2 });
  });

  it("environments separate apps of one name", async () => {
    const main = await run(storage.deployApp(wsA, deploy("envs", [{ name: "f", options: {} }]), "h"));
    const staging = await run(storage.deployApp(wsA, { ...deploy("envs", [{ name: "f", options: {} }]), environment: "staging" }, "h"));
    expect(staging.app.id).not.toBe(main.app.id);
    expect(main.app.environment).toBe("main");
    expect((await run(storage.lookupFunction(wsA, "envs", "f", "staging"))).id).toBe(staging.functions[0].id);
    expect((await run(storage.lookupFunction(wsA, "envs", "f"))).id).toBe(main.functions[0].id);
  });

  it("bundles round-trip byte for byte", async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await run(storage.putBundle("bh", bytes));
    await run(storage.putBundle("bh", bytes));
    expect(Array.from(await run(storage.getBundle("bh")))).toEqual([0, 1, 2, 250, 255]);
    expect((await fail(storage.getBundle("missing")))._tag).toBe("NotFoundError");
  });

  it("calls are stored and read back; an unknown call is NotFound", async () => {
    const d = await run(storage.deployApp(wsA, deploy("called", [{ name: "f", options: {} }]), "h"));
    const call = { id: "fc-stored", workspaceId: wsA, functionId: d.functions[0].id, region: "us-east", createdAt: 123 };
    await run(storage.createCall(call));
    expect(await run(storage.getCall("fc-stored"))).toEqual(call);
    expect((await fail(storage.getCall("fc-nope")))._tag).toBe("NotFoundError");
  });

  it("upsertRegion keeps one row per region with the latest url", async () => {
    await run(storage.upsertRegion("us-east", "http://127.0.0.1:1"));
    await run(storage.upsertRegion("us-east", "http://127.0.0.1:2"));
    await run(storage.upsertRegion("eu-west", "http://127.0.0.1:3"));
    const regions = await run(storage.listRegions());
    expect(regions.map((r) => [r.name, r.url])).toEqual([["eu-west", "http://127.0.0.1:3"], ["us-east", "http://127.0.0.1:2"]]);
  });
});
