import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Effect, Result } from "effect";
import { migrate, newId, SecretKey, type FunctionRow } from "@ferry/core";
import { openLibsql } from "@ferry/core/node";
import { prepareContainerStart } from "../src/secrets/container-start.ts";
import { resolveDeployObjects } from "../src/secrets/resolve-deploy-objects.ts";
import { SecretVault } from "../src/secrets/secret-vault.ts";
import { VolumeStore } from "../src/volumes/volume-store.ts";

/** The vault over a real libSQL file: what is on disk, what listings show, what containers get. */

let dir: string;
let client: Client;
let vault: SecretVault;
let volumes: VolumeStore;
const VALUE = "sk-live-7f3a9c1e5b2d";

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);
const fail = async <A, E>(e: Effect.Effect<A, E>): Promise<E> => {
  const r = await Effect.runPromise(Effect.result(e));
  if (Result.isSuccess(r)) throw new Error("expected a failure");
  return r.failure;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-vault-"));
  client = await openLibsql(`file:${join(dir, "state.db")}`);
  await run(migrate(client));
  for (const ws of ["ws-a", "ws-b", "ws-c"]) await client.execute({ sql: "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, 0)", args: [ws, ws] });
  vault = new SecretVault(client, await SecretKey.fromBase64(SecretKey.generateBase64()));
  volumes = new VolumeStore(client);
});
afterAll(async () => {
  client?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("SecretVault", () => {
  it("stores values sealed: the database files never hold them in plaintext", async () => {
    await run(vault.put("ws-a", "openai", { OPENAI_API_KEY: VALUE }, { overwrite: false }));
    await client.execute("PRAGMA wal_checkpoint(FULL)");
    for (const f of await readdir(dir)) {
      const bytes = await readFile(join(dir, f));
      expect(bytes.includes(Buffer.from(VALUE)), f).toBe(false);
    }
    expect(await run(vault.environment("ws-a", ["openai"]))).toEqual({ OPENAI_API_KEY: VALUE });
  });

  it("lists names, variable names and times, never values nor app-scoped secrets", async () => {
    await run(vault.put("ws-a", "@deployed/app/main/f/0", { INLINE: "x" }, { overwrite: true, anonymous: true }));
    const listed = await run(vault.list("ws-a"));
    expect(listed.map((s) => s.name)).toEqual(["openai"]);
    expect(listed[0]!.keys).toEqual(["OPENAI_API_KEY"]);
    expect(JSON.stringify(listed)).not.toContain(VALUE);
  });

  it("refuses to replace a secret without overwrite, and replaces it with", async () => {
    const e = await fail(vault.put("ws-a", "openai", { OPENAI_API_KEY: "other" }, { overwrite: false }));
    expect(e._tag).toBe("ConflictError");
    expect(e.message).toContain("--force");
    await run(vault.put("ws-a", "openai", { OPENAI_API_KEY: "rotated", ORG: "o" }, { overwrite: true }));
    expect(await run(vault.environment("ws-a", ["openai"]))).toEqual({ OPENAI_API_KEY: "rotated", ORG: "o" });
  });

  it("another workspace's secret is not found, and a row moved there cannot be opened", async () => {
    expect((await fail(vault.environment("ws-b", ["openai"])))._tag).toBe("NotFoundError");
    expect(await run(vault.missing("ws-b", ["openai"]))).toEqual(["openai"]);
    expect((await fail(vault.remove("ws-b", "openai")))._tag).toBe("NotFoundError");
    await client.execute("INSERT INTO secrets (id, workspace_id, name, keys, sealed, key_id, created_at, updated_at) SELECT 'se-copy', 'ws-b', name, keys, sealed, key_id, 0, 0 FROM secrets WHERE workspace_id = 'ws-a' AND name = 'openai'");
    const e = await fail(vault.environment("ws-b", ["openai"]));
    expect(e.message).toMatch(/cannot be decrypted/);
    expect(e.message).not.toContain("rotated");
  });

  it("merges several secrets in order, a later one winning", async () => {
    await run(vault.put("ws-a", "first", { A: "1", B: "1" }, { overwrite: false }));
    await run(vault.put("ws-a", "second", { B: "2" }, { overwrite: false }));
    expect(await run(vault.environment("ws-a", ["first", "second"]))).toEqual({ A: "1", B: "2" });
  });

  it("without a platform key it lists and deletes but neither stores nor reads values", async () => {
    const keyless = new SecretVault(client, undefined);
    expect((await run(keyless.list("ws-a"))).length).toBeGreaterThan(0);
    const e = await fail(keyless.put("ws-a", "x", { A: "1" }, { overwrite: false }));
    expect(e._tag).toBe("UnavailableError");
    expect(e.message).toContain("FERRY_SECRET_KEY");
  });
});

describe("deploy objects and container starts", () => {
  it("resolves names, seals inline values as app-scoped secrets and creates createIfMissing volumes", async () => {
    const r = await run(resolveDeployObjects({ vault, volumes }, "ws-a", {
      app: "demo", mode: "deployed", environment: "main",
      functions: [{ index: 2, name: "ask", secrets: ["openai", { values: { INLINE: "inline-value" } }], volumes: { "/w": { name: "weights", createIfMissing: true } } }],
    }));
    expect(r.functions).toEqual([{ index: 2, secrets: ["openai", "@deployed/demo/main/ask/1"], volumes: { "/w": "weights" } }]);
    expect((await run(volumes.byName("ws-a", "weights"))).version).toBe(0);
  });

  it("refuses unknown names with the field at fault, and another workspace's as unknown", async () => {
    const missing = await fail(resolveDeployObjects({ vault, volumes }, "ws-c", {
      app: "demo", mode: "deployed", environment: "main", functions: [{ index: 0, name: "f", secrets: ["openai"] }],
    }));
    expect(missing._tag).toBe("ValidationError");
    expect((missing as { field: string }).field).toBe("body.functions[0].options.secrets[0]");
    expect(missing.message).toContain("ferry secret create openai");
    const vol = await fail(resolveDeployObjects({ vault, volumes }, "ws-c", {
      app: "demo", mode: "deployed", environment: "main", functions: [{ index: 1, name: "f", volumes: { "/w": "weights" } }],
    }));
    expect((vol as { field: string }).field).toBe("body.functions[1].options.volumes./w");
    const bad = await fail(resolveDeployObjects({ vault, volumes }, "ws-a", {
      app: "demo", mode: "deployed", environment: "main", functions: [{ index: 0, name: "f", secrets: [{ values: { "BAD-NAME": "v" } }] }],
    }));
    expect((bad as { field: string }).field).toBe("body.functions[0].options.secrets[0].values.BAD-NAME");
    const twice = await fail(resolveDeployObjects({ vault, volumes }, "ws-a", {
      app: "demo", mode: "deployed", environment: "main", functions: [{ index: 0, name: "f", volumes: { "/a": "weights", "/b": "weights" } }],
    }));
    expect(twice.message).toMatch(/already mounted/);
  });

  it("gives a container its decrypted variables and volume ids, or an error naming what is gone", async () => {
    const fn = (options: FunctionRow["options"]): FunctionRow => ({
      id: newId("fn"), appId: "ap-1", workspaceId: "ws-a", name: "ask", options, appName: "demo", appState: "running", bundleHash: "h", removed: false,
    });
    const prepare = prepareContainerStart({ vault, volumes });
    const ok = await prepare(fn({ secrets: ["openai"], volumes: { "/w": "weights" } }));
    expect(ok.env).toEqual({ OPENAI_API_KEY: "rotated", ORG: "o" });
    expect(ok.volumes["/w"]).toMatch(/^vo-/);
    expect(ok.error).toBeUndefined();
    const gone = await prepare(fn({ secrets: ["deleted-since"] }));
    expect(gone.error).toBe("cannot start demo.ask: secret deleted-since no longer exists in this workspace: create it again, then retry");
    expect(gone.env).toEqual({});
    expect((await prepare(fn({}))).env).toEqual({});
  });
});
