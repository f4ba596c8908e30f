import { Hono } from "hono";
import { Effect, Schema } from "effect";
import { decodeAt, Limits, newId, NotFoundError, sha256Hex, StorageError, type Storage } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";

/** An endpoint token's secret: `fep_` and 48 hex digits (API tokens are `fry_…`). */
export const ENDPOINT_TOKEN = /^fep_[0-9a-f]{48}$/;

const run = (storage: Storage["Service"], operation: string, sql: string, args: Array<string | number | null>) =>
  Effect.tryPromise({ try: () => storage.client.execute({ sql, args }), catch: (cause) => new StorageError({ operation, cause }) });

/**
 * Endpoint tokens in libSQL (table `endpoint_tokens`): each opens the `auth: "token"` web
 * endpoints of one app of one workspace, and nothing else (never the `/v1` API).
 *
 * @example
 * ```ts
 * const { secret } = await Effect.runPromise(createEndpointToken(storage, wsId, "demo", "ci"));
 * await Effect.runPromise(resolveEndpointToken(storage, secret)); // { workspaceId, appName: "demo" }
 * ```
 */
export const createEndpointToken = (storage: Storage["Service"], workspaceId: string, appName: string, name: string) => Effect.gen(function*() {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  const secret = `fep_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  const hash = yield* Effect.promise(() => sha256Hex(secret));
  const id = newId("etk", 10);
  const createdAt = Date.now();
  yield* run(storage, "createEndpointToken", "INSERT INTO endpoint_tokens (id, workspace_id, app_name, name, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    [id, workspaceId, appName, name, hash, createdAt]);
  return { id, name, app: appName, createdAt, secret };
});

/** The workspace and app an endpoint token opens, or undefined when unknown or revoked. */
export const resolveEndpointToken = (storage: Storage["Service"], secret: string) => Effect.gen(function*() {
  const hash = yield* Effect.promise(() => sha256Hex(secret));
  const rs = yield* run(storage, "resolveEndpointToken", "SELECT workspace_id, app_name FROM endpoint_tokens WHERE hash = ? AND revoked_at IS NULL", [hash]);
  const r = rs.rows[0];
  return r ? { workspaceId: String(r.workspace_id), appName: String(r.app_name) } : undefined;
});

const NewEndpointToken = Schema.Struct({
  app: Schema.String.check(Schema.isPattern(Limits.namePattern, { message: "expected an app name" })),
  name: Schema.optional(Schema.String.check(Schema.isPattern(Limits.namePattern, { message: "expected a token name of letters, digits, '_' and '-'" }))),
});

/** `/v1/endpoint-tokens`: create (the secret is shown once), list (never secrets), revoke. */
export const endpointTokenRoutes = (deps: EdgeDeps) => new Hono<EdgeEnv>()
  .post("/", async (c) => {
    const body = await readJson(c);
    const decoded = decodeAt(NewEndpointToken, body._tag === "Success" ? body.success : undefined, "body");
    if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
    const { app, name } = decoded.success;
    return runApi(c, createEndpointToken(deps.storage, c.get("workspaceId"), app, name ?? `endpoint-${app}`),
      (t) => c.json({ id: t.id, name: t.name, app: t.app, createdAt: t.createdAt, token: t.secret }, 201));
  })
  .get("/", (c) => runApi(c, run(deps.storage, "listEndpointTokens", "SELECT id, name, app_name, created_at, revoked_at FROM endpoint_tokens WHERE workspace_id = ? ORDER BY created_at", [c.get("workspaceId")]),
    (rs) => c.json({ tokens: rs.rows.map((r) => ({ id: String(r.id), name: String(r.name), app: String(r.app_name), createdAt: Number(r.created_at), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at) })) })))
  .delete("/:id", (c) => runApi(c, run(deps.storage, "revokeEndpointToken", "UPDATE endpoint_tokens SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL",
    [Date.now(), c.req.param("id"), c.get("workspaceId")]).pipe(
    Effect.flatMap((rs) => rs.rowsAffected === 0 ? Effect.fail(new NotFoundError({ kind: "endpoint token", id: c.req.param("id") })) : Effect.succeed({ revoked: true }))),
  (r) => c.json(r)));
