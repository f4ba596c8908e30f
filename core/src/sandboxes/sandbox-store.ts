import type { Client, InArgs, Row } from "@libsql/client";
import { Context, Effect, Layer } from "effect";
import { ConflictError, NotFoundError, StorageError, ValidationError } from "../errors/errors.ts";
import { newId } from "../ids/ids.ts";
import { Limits } from "../limits/limits.ts";
import { DEFAULT_ENVIRONMENT, Storage } from "../storage/storage.ts";
import type { ResolvedSandboxOptions } from "./sandbox-options.ts";

/** A sandbox's life: placed and starting, running its exec server, or gone for good. */
export type SandboxState = "starting" | "running" | "terminated";

/** One sandbox as stored: who owns it, where it runs, and how it ended. */
export interface SandboxRow {
  readonly id: string;
  readonly workspaceId: string;
  readonly appId: string;
  readonly appName: string;
  /** The function it mirrors (`ferry shell`), or "". */
  readonly functionName: string;
  readonly region: string;
  readonly agentId: string;
  readonly containerId: string;
  readonly state: SandboxState;
  readonly options: ResolvedSandboxOptions;
  readonly createdAt: number;
  readonly terminatedAt: number | null;
  /** Why it ended: `terminated`, `timeout: …`, `idle timeout: …`, `out of memory: …`, `agent disconnected`. */
  readonly exitReason: string | null;
}

/**
 * A filesystem snapshot of a sandbox: a content-addressed tar a new sandbox restores, and the same
 * files as an image (its `imageId` in the region's block store) functions start from.
 */
export interface SnapshotRow {
  readonly id: string;
  readonly workspaceId: string;
  readonly sandboxId: string;
  /** sha256 of the tar. */
  readonly hash: string;
  /** The image of its files ("" for a snapshot taken before snapshots were images). */
  readonly imageId: string;
  readonly sizeBytes: number;
  readonly createdAt: number;
}

type E<A> = Effect.Effect<A, StorageError>;

/**
 * Sandboxes and their snapshots in libSQL (migration 8). The region writes a sandbox's row as it
 * is placed, runs and ends; the edge reads it for ownership and routing.
 *
 * @example
 * ```ts
 * const sandboxes = SandboxStore.fromStorage(storage);
 * const row = yield* sandboxes.get("sb-…");
 * ```
 */
export class SandboxStore extends Context.Service<SandboxStore, {
  /** The running app `nameOrId` names (deployed first), or a new empty deployed app of that name. */
  resolveApp(workspaceId: string, nameOrId: string, environment?: string): Effect.Effect<{ readonly id: string; readonly name: string; readonly bundleHash: string }, StorageError | NotFoundError | ConflictError | ValidationError>;
  insert(row: SandboxRow): E<void>;
  markRunning(id: string): E<void>;
  /** Record the end once: a later report of the same end keeps the first reason. */
  markTerminated(id: string, reason: string, at: number): E<void>;
  get(id: string): Effect.Effect<SandboxRow, StorageError | NotFoundError>;
  /** A workspace's sandboxes, newest first. */
  list(workspaceId: string, opts?: { readonly liveOnly?: boolean; readonly limit?: number }): E<ReadonlyArray<SandboxRow>>;
  /** Sandboxes a region still counts as live (to close those it lost across a restart). */
  listLiveInRegion(region: string): E<ReadonlyArray<SandboxRow>>;
  putSnapshotBlob(hash: string, bytes: Uint8Array): E<void>;
  getSnapshotBlob(hash: string): Effect.Effect<Uint8Array, StorageError | NotFoundError>;
  createSnapshot(snapshot: Omit<SnapshotRow, "id" | "createdAt">): E<SnapshotRow>;
  getSnapshot(id: string): Effect.Effect<SnapshotRow, StorageError | NotFoundError>;
}>()("ferry/core/sandboxes/SandboxStore") {
  /** Over the platform's Storage (whose migrations create the tables). */
  static readonly layer = Layer.effect(SandboxStore, Effect.map(Storage, (s) => makeSandboxStore(s.client)));
  /** Over a Storage already opened (its migrations have run). */
  static fromStorage(storage: Storage["Service"]): SandboxStore["Service"] {
    return makeSandboxStore(storage.client);
  }
}

const str = (r: Row, c: string): string => String(r[c]);
const num = (r: Row, c: string): number => Number(r[c]);

const toSandbox = (r: Row): SandboxRow => ({
  id: str(r, "id"), workspaceId: str(r, "workspace_id"), appId: str(r, "app_id"), appName: str(r, "app_name"),
  functionName: str(r, "function_name"), region: str(r, "region"), agentId: str(r, "agent_id"), containerId: str(r, "container_id"),
  state: str(r, "state") as SandboxState, options: JSON.parse(str(r, "options")) as ResolvedSandboxOptions, createdAt: num(r, "created_at"),
  terminatedAt: r.terminated_at === null ? null : num(r, "terminated_at"), exitReason: r.exit_reason === null ? null : str(r, "exit_reason"),
});

const toSnapshot = (r: Row): SnapshotRow => ({
  id: str(r, "id"), workspaceId: str(r, "workspace_id"), sandboxId: str(r, "sandbox_id"), hash: str(r, "hash"),
  sizeBytes: num(r, "size"), createdAt: num(r, "created_at"), imageId: typeof r.image_id === "string" ? r.image_id : "",
});

const makeSandboxStore = (client: Client): SandboxStore["Service"] => {
  const run = (operation: string, sql: string, args: InArgs = []) =>
    Effect.tryPromise({ try: () => client.execute({ sql, args }), catch: (cause) => new StorageError({ operation, cause }) });

  const resolveApp = Effect.fn("SandboxStore.resolveApp")(function*(workspaceId: string, nameOrId: string, environment = DEFAULT_ENVIRONMENT) {
    const rs = yield* run("resolveApp",
      `SELECT id, name, state, mode, bundle_hash FROM apps WHERE workspace_id = ? AND (id = ? OR (name = ? AND environment = ?))
       ORDER BY (state = 'running') DESC, (mode = 'deployed') DESC, updated_at DESC`,
      [workspaceId, nameOrId, nameOrId, environment]);
    const running = rs.rows.find((r) => str(r, "state") === "running");
    if (running) return { id: str(running, "id"), name: str(running, "name"), bundleHash: str(running, "bundle_hash") };
    if (rs.rows.some((r) => str(r, "mode") === "deployed")) {
      return yield* new ConflictError({ message: `app ${nameOrId} is stopped; deploy it again to start sandboxes in it` });
    }
    if (/^ap-[0-9a-z]+$/.test(nameOrId)) return yield* new NotFoundError({ kind: "app", id: nameOrId });
    if (!Limits.namePattern.test(nameOrId)) {
      return yield* new ValidationError({ field: "body.app", message: `body.app: ${JSON.stringify(nameOrId)} is not a valid app name (${Limits.namePattern})` });
    }
    // Like Modal's App.lookup(name, createIfMissing): an app with no functions yet, which a later deploy fills.
    const now = Date.now();
    yield* run("resolveApp",
      `INSERT INTO apps (id, workspace_id, name, environment, mode, state, bundle_hash, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'deployed', 'running', '', ?, ?) ON CONFLICT DO NOTHING`,
      [newId("ap"), workspaceId, nameOrId, environment, now, now]);
    const created = (yield* run("resolveApp",
      "SELECT id, name, bundle_hash FROM apps WHERE workspace_id = ? AND name = ? AND environment = ? AND mode = 'deployed'",
      [workspaceId, nameOrId, environment])).rows[0];
    if (!created) return yield* new NotFoundError({ kind: "app", id: nameOrId });
    return { id: str(created, "id"), name: str(created, "name"), bundleHash: str(created, "bundle_hash") };
  });

  return {
    resolveApp,
    insert: Effect.fn("SandboxStore.insert")(function*(s: SandboxRow) {
      yield* run("insertSandbox",
        `INSERT INTO sandboxes (id, workspace_id, app_id, app_name, function_name, region, agent_id, container_id, state, options, created_at, terminated_at, exit_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [s.id, s.workspaceId, s.appId, s.appName, s.functionName, s.region, s.agentId, s.containerId, s.state, JSON.stringify(s.options), s.createdAt, s.terminatedAt, s.exitReason]);
    }),
    markRunning: Effect.fn("SandboxStore.markRunning")(function*(id: string) {
      yield* run("markSandboxRunning", "UPDATE sandboxes SET state = 'running' WHERE id = ? AND state = 'starting'", [id]);
    }),
    markTerminated: Effect.fn("SandboxStore.markTerminated")(function*(id: string, reason: string, at: number) {
      yield* run("markSandboxTerminated", "UPDATE sandboxes SET state = 'terminated', terminated_at = ?, exit_reason = ? WHERE id = ? AND state != 'terminated'", [at, reason, id]);
    }),
    get: Effect.fn("SandboxStore.get")(function*(id: string) {
      const r = (yield* run("getSandbox", "SELECT * FROM sandboxes WHERE id = ?", [id])).rows[0];
      if (!r) return yield* new NotFoundError({ kind: "sandbox", id });
      return toSandbox(r);
    }),
    list: Effect.fn("SandboxStore.list")(function*(workspaceId: string, opts: { readonly liveOnly?: boolean; readonly limit?: number } = {}) {
      const rs = yield* run("listSandboxes",
        `SELECT * FROM sandboxes WHERE workspace_id = ?${opts.liveOnly ? " AND state != 'terminated'" : ""} ORDER BY created_at DESC LIMIT ?`,
        [workspaceId, opts.limit ?? 100]);
      return rs.rows.map(toSandbox);
    }),
    listLiveInRegion: Effect.fn("SandboxStore.listLiveInRegion")(function*(region: string) {
      const rs = yield* run("listLiveSandboxes", "SELECT * FROM sandboxes WHERE region = ? AND state != 'terminated'", [region]);
      return rs.rows.map(toSandbox);
    }),
    putSnapshotBlob: Effect.fn("SandboxStore.putSnapshotBlob")(function*(hash: string, bytes: Uint8Array) {
      yield* run("putSnapshotBlob", "INSERT INTO snapshot_blobs (hash, bytes, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING",
        [hash, bytes, bytes.byteLength, Date.now()]);
    }),
    getSnapshotBlob: Effect.fn("SandboxStore.getSnapshotBlob")(function*(hash: string) {
      const r = (yield* run("getSnapshotBlob", "SELECT bytes FROM snapshot_blobs WHERE hash = ?", [hash])).rows[0];
      if (!r) return yield* new NotFoundError({ kind: "snapshot", id: hash });
      const v = r.bytes as ArrayBuffer | Uint8Array;
      return v instanceof Uint8Array ? v : new Uint8Array(v);
    }),
    createSnapshot: Effect.fn("SandboxStore.createSnapshot")(function*(s: Omit<SnapshotRow, "id" | "createdAt">) {
      const row: SnapshotRow = { ...s, id: newId("sn"), createdAt: Date.now() };
      yield* run("createSnapshot", "INSERT INTO sandbox_snapshots (id, workspace_id, sandbox_id, hash, size, created_at, image_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [row.id, row.workspaceId, row.sandboxId, row.hash, row.sizeBytes, row.createdAt, row.imageId]);
      return row;
    }),
    getSnapshot: Effect.fn("SandboxStore.getSnapshot")(function*(id: string) {
      const r = (yield* run("getSnapshot", "SELECT * FROM sandbox_snapshots WHERE id = ?", [id])).rows[0];
      if (!r) return yield* new NotFoundError({ kind: "snapshot", id });
      return toSnapshot(r);
    }),
  };
};
