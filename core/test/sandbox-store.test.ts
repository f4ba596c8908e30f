import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Effect, Result } from "effect";
import { openLibsql } from "../src/storage/libsql-file.ts";
import { Storage } from "../src/storage/storage.ts";
import { SandboxStore, type SandboxRow } from "../src/sandboxes/sandbox-store.ts";
import { resolveSandboxOptions } from "../src/sandboxes/sandbox-options.ts";

/** Sandboxes and snapshots in a real libSQL file. */

let dir: string;
let client: Client;
let storage: Storage["Service"];
let store: SandboxStore["Service"];

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect);
const fail = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> => {
  const r = await Effect.runPromise(Effect.result(effect));
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)}`);
  return r.failure;
};

const row = (id: string, workspaceId: string, overrides: Partial<SandboxRow> = {}): SandboxRow => ({
  id, workspaceId, appId: "ap-1", appName: "demo", functionName: "", region: "local", agentId: "ag-1", containerId: `ct-${id}`,
  state: "starting", options: resolveSandboxOptions({ app: "demo" }), createdAt: Date.now(), terminatedAt: null, exitReason: null, ...overrides,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-sandbox-store-"));
  client = await openLibsql(`file:${join(dir, "state.db")}`);
  storage = await run(Effect.gen(function*() {
    return yield* Storage;
  }).pipe(Effect.provide(Storage.layerClient(client))));
  store = SandboxStore.fromStorage(storage);
});
afterAll(async () => {
  client?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("SandboxStore", () => {
  it("records a sandbox's life: starting, running, and its first end only", async () => {
    await run(store.insert(row("sb-a", "ws-1")));
    await run(store.markRunning("sb-a"));
    expect((await run(store.get("sb-a"))).state).toBe("running");
    await run(store.markTerminated("sb-a", "timeout: the sandbox reached its timeout of 5s", 1234));
    await run(store.markTerminated("sb-a", "agent disconnected", 9999));
    expect(await run(store.get("sb-a"))).toMatchObject({ state: "terminated", terminatedAt: 1234, exitReason: "timeout: the sandbox reached its timeout of 5s" });
    expect((await run(store.get("sb-a"))).options.memoryMiB).toBe(512);
  });

  it("lists a workspace's sandboxes only, live ones by default for a region", async () => {
    await run(store.insert(row("sb-b", "ws-1")));
    await run(store.insert(row("sb-c", "ws-2")));
    expect((await run(store.list("ws-1"))).map((s) => s.id).sort()).toEqual(["sb-a", "sb-b"]);
    expect((await run(store.list("ws-1", { liveOnly: true }))).map((s) => s.id)).toEqual(["sb-b"]);
    expect((await run(store.listLiveInRegion("local"))).map((s) => s.id).sort()).toEqual(["sb-b", "sb-c"]);
    expect(await fail(store.get("sb-missing"))).toMatchObject({ _tag: "NotFoundError", kind: "sandbox" });
  });

  it("resolves an app by name, creating an empty deployed one for a new name, and refuses a stopped one", async () => {
    const ws = await run(storage.ensureWorkspace("sandbox-apps"));
    const created = await run(store.resolveApp(ws.id, "scratch"));
    expect(created).toMatchObject({ name: "scratch", bundleHash: "", id: expect.stringMatching(/^ap-/) });
    expect(await run(store.resolveApp(ws.id, "scratch"))).toEqual(created);
    expect(await run(store.resolveApp(ws.id, created.id))).toEqual(created);
    expect((await run(storage.listApps(ws.id))).map((a) => [a.name, a.mode, a.state])).toEqual([["scratch", "deployed", "running"]]);
    await run(storage.stopApp(ws.id, created.id));
    expect(await fail(store.resolveApp(ws.id, "scratch"))).toMatchObject({ _tag: "ConflictError", message: expect.stringContaining("stopped") });
    expect(await fail(store.resolveApp(ws.id, "ap-unknown0000"))).toMatchObject({ _tag: "NotFoundError" });
    expect(await fail(store.resolveApp(ws.id, "no spaces"))).toMatchObject({ _tag: "ValidationError", field: "body.app" });
  });

  it("keeps snapshot blobs once per hash and snapshots per workspace", async () => {
    const bytes = new TextEncoder().encode("tar bytes");
    await run(store.putSnapshotBlob("h1", bytes));
    await run(store.putSnapshotBlob("h1", bytes));
    expect(new TextDecoder().decode(await run(store.getSnapshotBlob("h1")))).toBe("tar bytes");
    const snap = await run(store.createSnapshot({ workspaceId: "ws-1", sandboxId: "sb-a", hash: "h1", sizeBytes: bytes.byteLength, imageId: "ab".repeat(32) }));
    expect(snap.id).toMatch(/^sn-/);
    expect(await run(store.getSnapshot(snap.id))).toEqual(snap);
    expect(await fail(store.getSnapshotBlob("h-missing"))).toMatchObject({ _tag: "NotFoundError" });
  });
});
