import type { Client, InArgs, InStatement, Row } from "@libsql/client";
import { Context, Effect, Layer } from "effect";
import type { DeployRequest } from "../domain/manifest.ts";
import { ConflictError, NotFoundError, StorageError } from "../errors/errors.ts";
import { newId } from "../ids/ids.ts";
import { sha256Hex } from "../bytes/sha256-hex.ts";
import { Migrations } from "./migrations.ts";
import type { AppRow, CallRow, FunctionRow, RegionRow, TokenRow, WorkspaceRow } from "./rows.ts";

type E<A> = Effect.Effect<A, StorageError>;

/**
 * Platform state in libSQL: workspaces, hashed tokens, apps and their bundles, functions, calls,
 * regions. An embedded `file:` database by default, or a sqld/Turso URL.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const storage = yield* Storage;
 *   const ws = yield* storage.ensureWorkspace("default");
 * }).pipe(Effect.provide(Storage.layerClient(client)));
 * ```
 */
export class Storage extends Context.Service<Storage, {
  readonly client: Client;
  ensureWorkspace(name: string): E<WorkspaceRow>;
  createToken(workspaceId: string, name: string): E<{ readonly token: TokenRow; readonly secret: string }>;
  listTokens(workspaceId: string): E<ReadonlyArray<TokenRow>>;
  revokeToken(workspaceId: string, tokenId: string): Effect.Effect<void, StorageError | NotFoundError>;
  resolveToken(secret: string): E<{ readonly workspaceId: string; readonly tokenId: string } | undefined>;
  putBundle(hash: string, bytes: Uint8Array): E<void>;
  getBundle(hash: string): Effect.Effect<Uint8Array, StorageError | NotFoundError>;
  deployApp(workspaceId: string, request: DeployRequest, bundleHash: string): Effect.Effect<{ readonly app: AppRow; readonly functions: ReadonlyArray<FunctionRow> }, StorageError>;
  listApps(workspaceId: string): E<ReadonlyArray<AppRow>>;
  getApp(workspaceId: string, nameOrId: string, environment?: string): Effect.Effect<AppRow, StorageError | NotFoundError>;
  stopApp(workspaceId: string, appId: string): Effect.Effect<void, StorageError>;
  listFunctions(appId: string): E<ReadonlyArray<FunctionRow>>;
  /** Functions of running apps that keep containers up without work (`minContainers` > 0). */
  listWarmFunctions(): E<ReadonlyArray<FunctionRow>>;
  getFunction(functionId: string): Effect.Effect<FunctionRow, StorageError | NotFoundError>;
  lookupFunction(workspaceId: string, appName: string, functionName: string, environment?: string): Effect.Effect<FunctionRow, StorageError | NotFoundError | ConflictError>;
  createCall(call: CallRow): E<void>;
  getCall(callId: string): Effect.Effect<CallRow, StorageError | NotFoundError>;
  upsertRegion(name: string, url: string): E<void>;
  listRegions(): E<ReadonlyArray<RegionRow>>;
  removeRegion(name: string, url: string): E<void>;
}>()("ferry/core/storage/Storage") {
  /** Storage over an already-created libSQL client; runs pending migrations first. */
  static layerClient(client: Client) {
    return Layer.effect(Storage, makeStorage(client));
  }
}

export const DEFAULT_ENVIRONMENT = "main";


const str = (row: Row, col: string): string => String(row[col]);
const num = (row: Row, col: string): number => Number(row[col]);

const toApp = (r: Row): AppRow => ({
  id: str(r, "id"), workspaceId: str(r, "workspace_id"), name: str(r, "name"), environment: str(r, "environment"),
  mode: str(r, "mode") as AppRow["mode"], state: str(r, "state") as AppRow["state"], bundleHash: str(r, "bundle_hash"),
  createdAt: num(r, "created_at"), updatedAt: num(r, "updated_at"),
});
const toFunction = (r: Row): FunctionRow => ({
  id: str(r, "id"), appId: str(r, "app_id"), workspaceId: str(r, "workspace_id"), name: str(r, "name"),
  options: JSON.parse(str(r, "options")), appName: str(r, "app_name"), appState: str(r, "app_state") as FunctionRow["appState"],
  bundleHash: str(r, "bundle_hash"), removed: r.removed_at !== null && r.removed_at !== undefined,
});
const toToken = (r: Row): TokenRow => ({
  id: str(r, "id"), workspaceId: str(r, "workspace_id"), name: str(r, "name"), createdAt: num(r, "created_at"),
  revokedAt: r.revoked_at === null ? null : num(r, "revoked_at"),
});

const FUNCTION_SELECT = `SELECT f.id, f.app_id, f.workspace_id, f.name, f.options, a.name AS app_name, a.state AS app_state, a.bundle_hash, f.removed_at
  FROM functions f JOIN apps a ON a.id = f.app_id`;

const makeStorage = (client: Client) => Effect.gen(function*() {
  const run = (operation: string, sql: string, args: InArgs = []) =>
    Effect.tryPromise({ try: () => client.execute({ sql, args }), catch: (cause) => new StorageError({ operation, cause }) });
  const batch = (operation: string, statements: Array<InStatement>) =>
    Effect.tryPromise({ try: () => client.batch(statements, "write"), catch: (cause) => new StorageError({ operation, cause }) });

  yield* migrate(client);

  const ensureWorkspace = Effect.fn("Storage.ensureWorkspace")(function*(name: string) {
    const id = newId("ws");
    yield* run("ensureWorkspace", "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING", [id, name, Date.now()]);
    const rs = yield* run("ensureWorkspace", "SELECT * FROM workspaces WHERE name = ?", [name]);
    const r = rs.rows[0];
    return { id: str(r, "id"), name: str(r, "name"), createdAt: num(r, "created_at") };
  });

  const createToken = Effect.fn("Storage.createToken")(function*(workspaceId: string, name: string) {
    const bytes = new Uint8Array(24);
    crypto.getRandomValues(bytes);
    const secret = `fry_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    const hash = yield* Effect.promise(() => sha256Hex(secret));
    const token: TokenRow = { id: newId("tk", 10), workspaceId, name, createdAt: Date.now(), revokedAt: null };
    yield* run("createToken", "INSERT INTO tokens (id, workspace_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)",
      [token.id, workspaceId, name, hash, token.createdAt]);
    return { token, secret };
  });

  const listTokens = Effect.fn("Storage.listTokens")(function*(workspaceId: string) {
    const rs = yield* run("listTokens", "SELECT * FROM tokens WHERE workspace_id = ? ORDER BY created_at", [workspaceId]);
    return rs.rows.map(toToken);
  });

  const revokeToken = Effect.fn("Storage.revokeToken")(function*(workspaceId: string, tokenId: string) {
    const rs = yield* run("revokeToken", "UPDATE tokens SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL",
      [Date.now(), tokenId, workspaceId]);
    if (rs.rowsAffected === 0) return yield* new NotFoundError({ kind: "token", id: tokenId });
  });

  const resolveToken = Effect.fn("Storage.resolveToken")(function*(secret: string) {
    const hash = yield* Effect.promise(() => sha256Hex(secret));
    const rs = yield* run("resolveToken", "SELECT id, workspace_id FROM tokens WHERE hash = ? AND revoked_at IS NULL", [hash]);
    const r = rs.rows[0];
    return r ? { workspaceId: str(r, "workspace_id"), tokenId: str(r, "id") } : undefined;
  });

  const putBundle = Effect.fn("Storage.putBundle")(function*(hash: string, bytes: Uint8Array) {
    yield* run("putBundle", "INSERT INTO bundles (hash, bytes, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING",
      [hash, bytes, bytes.byteLength, Date.now()]);
  });

  const getBundle = Effect.fn("Storage.getBundle")(function*(hash: string) {
    const rs = yield* run("getBundle", "SELECT bytes FROM bundles WHERE hash = ?", [hash]);
    const r = rs.rows[0];
    if (!r) return yield* new NotFoundError({ kind: "bundle", id: hash });
    const v = r.bytes as ArrayBuffer | Uint8Array;
    return v instanceof Uint8Array ? v : new Uint8Array(v);
  });

  const listFunctions = Effect.fn("Storage.listFunctions")(function*(appId: string) {
    const rs = yield* run("listFunctions", `${FUNCTION_SELECT} WHERE f.app_id = ? AND f.removed_at IS NULL ORDER BY f.name`, [appId]);
    return rs.rows.map(toFunction);
  });

  const listWarmFunctions = Effect.fn("Storage.listWarmFunctions")(function*() {
    const rs = yield* run("listWarmFunctions",
      `${FUNCTION_SELECT} WHERE a.state = 'running' AND f.removed_at IS NULL AND COALESCE(json_extract(f.options, '$.minContainers'), 0) > 0`);
    return rs.rows.map(toFunction);
  });

  const deployApp = Effect.fn("Storage.deployApp")(function*(workspaceId: string, request: DeployRequest, bundleHash: string) {
    const environment = request.environment ?? DEFAULT_ENVIRONMENT;
    const now = Date.now();
    const existing = request.mode === "deployed"
      ? (yield* run("deployApp", "SELECT * FROM apps WHERE workspace_id = ? AND environment = ? AND name = ? AND mode = 'deployed'",
        [workspaceId, environment, request.name])).rows[0]
      : undefined;
    const appId = existing ? str(existing, "id") : newId("ap");
    const statements: Array<InStatement> = [
      existing
        ? { sql: "UPDATE apps SET state = 'running', bundle_hash = ?, updated_at = ? WHERE id = ?", args: [bundleHash, now, appId] }
        : {
          sql: "INSERT INTO apps (id, workspace_id, name, environment, mode, state, bundle_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
          args: [appId, workspaceId, request.name, environment, request.mode, bundleHash, now, now],
        },
    ];
    // Function ids stay stable across redeploys so handles from `Function.lookup` keep working.
    for (const fn of request.functions) {
      statements.push({
        sql: `INSERT INTO functions (id, app_id, workspace_id, name, options, created_at) VALUES (?, ?, ?, ?, ?, ?)
              ON CONFLICT(app_id, name) DO UPDATE SET options = excluded.options, removed_at = NULL`,
        args: [newId("fn"), appId, workspaceId, fn.name, JSON.stringify(fn.options), now],
      });
    }
    const names = request.functions.map((f) => f.name);
    statements.push({
      sql: `UPDATE functions SET removed_at = ? WHERE app_id = ? AND removed_at IS NULL AND name NOT IN (${names.map(() => "?").join(",")})`,
      args: [now, appId, ...names],
    });
    yield* batch("deployApp", statements);
    const app = toApp((yield* run("deployApp", "SELECT * FROM apps WHERE id = ?", [appId])).rows[0]);
    const functions = (yield* listFunctions(appId)).filter((f) => names.includes(f.name));
    return { app, functions };
  });

  const listApps = Effect.fn("Storage.listApps")(function*(workspaceId: string) {
    const rs = yield* run("listApps", "SELECT * FROM apps WHERE workspace_id = ? ORDER BY created_at", [workspaceId]);
    return rs.rows.map(toApp);
  });

  const getApp = Effect.fn("Storage.getApp")(function*(workspaceId: string, nameOrId: string, environment = DEFAULT_ENVIRONMENT) {
    const rs = yield* run("getApp",
      `SELECT * FROM apps WHERE workspace_id = ? AND (id = ? OR (name = ? AND environment = ?))
       ORDER BY (mode = 'deployed') DESC, updated_at DESC LIMIT 1`,
      [workspaceId, nameOrId, nameOrId, environment]);
    const r = rs.rows[0];
    if (!r) return yield* new NotFoundError({ kind: "app", id: nameOrId });
    return toApp(r);
  });

  const stopApp = Effect.fn("Storage.stopApp")(function*(workspaceId: string, appId: string) {
    yield* run("stopApp", "UPDATE apps SET state = 'stopped', updated_at = ? WHERE id = ? AND workspace_id = ?", [Date.now(), appId, workspaceId]);
  });

  const getFunction = Effect.fn("Storage.getFunction")(function*(functionId: string) {
    const rs = yield* run("getFunction", `${FUNCTION_SELECT} WHERE f.id = ?`, [functionId]);
    const r = rs.rows[0];
    if (!r) return yield* new NotFoundError({ kind: "function", id: functionId });
    return toFunction(r);
  });

  const lookupFunction = Effect.fn("Storage.lookupFunction")(function*(workspaceId: string, appName: string, functionName: string, environment = DEFAULT_ENVIRONMENT) {
    const rs = yield* run("lookupFunction",
      `${FUNCTION_SELECT} WHERE f.workspace_id = ? AND a.name = ? AND a.environment = ? AND a.mode = 'deployed' AND f.name = ? AND f.removed_at IS NULL`,
      [workspaceId, appName, environment, functionName]);
    const r = rs.rows[0];
    if (!r) return yield* new NotFoundError({ kind: "function", id: `${appName}.${functionName}` });
    const fn = toFunction(r);
    if (fn.appState === "stopped") return yield* new ConflictError({ message: `app ${appName} is stopped; deploy it again to call ${functionName}` });
    return fn;
  });

  const createCall = Effect.fn("Storage.createCall")(function*(call: CallRow) {
    // Recorded again with another region when the edge fails a call over before any region took it.
    yield* run("createCall", "INSERT INTO calls (id, workspace_id, function_id, region, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET region = excluded.region",
      [call.id, call.workspaceId, call.functionId, call.region, call.createdAt]);
  });

  const getCall = Effect.fn("Storage.getCall")(function*(callId: string) {
    const rs = yield* run("getCall", "SELECT * FROM calls WHERE id = ?", [callId]);
    const r = rs.rows[0];
    if (!r) return yield* new NotFoundError({ kind: "call", id: callId });
    return { id: str(r, "id"), workspaceId: str(r, "workspace_id"), functionId: str(r, "function_id"), region: str(r, "region"), createdAt: num(r, "created_at") };
  });

  const upsertRegion = Effect.fn("Storage.upsertRegion")(function*(name: string, url: string) {
    yield* run("upsertRegion", "INSERT INTO regions (name, url, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
      [name, url, Date.now()]);
  });

  const listRegions = Effect.fn("Storage.listRegions")(function*() {
    const rs = yield* run("listRegions", "SELECT * FROM regions ORDER BY name");
    return rs.rows.map((r) => ({ name: str(r, "name"), url: str(r, "url"), updatedAt: num(r, "updated_at") }));
  });

  const removeRegion = Effect.fn("Storage.removeRegion")(function*(name: string, url: string) {
    yield* run("removeRegion", "DELETE FROM regions WHERE name = ? AND url = ?", [name, url]);
  });

  return Storage.of({
    client, ensureWorkspace, createToken, listTokens, revokeToken, resolveToken, putBundle, getBundle, deployApp,
    listApps, getApp, stopApp, listFunctions, listWarmFunctions, getFunction, lookupFunction, createCall, getCall, upsertRegion, listRegions, removeRegion,
  });
});

/** Apply every migration newer than the database's version, each in one transaction. */
export const migrate = (client: Client) =>
  Effect.tryPromise({
    try: async () => {
      await client.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
      const rs = await client.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations");
      const current = Number(rs.rows[0].v);
      for (const m of Migrations) {
        if (m.version <= current) continue;
        await client.batch([
          ...m.sql,
          { sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", args: [m.version, m.name, Date.now()] },
        ], "write");
      }
    },
    catch: (cause) => new StorageError({ operation: "migrate", cause }),
  });
