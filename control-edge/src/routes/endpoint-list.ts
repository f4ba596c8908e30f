import { Hono } from "hono";
import { Effect } from "effect";
import { resolveEndpoint, StorageError, ValidationError } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { runApi } from "../http/run-api.ts";

/**
 * `GET /v1/endpoints?app=NAME[&environment=ENV]`: the web endpoints of a deployed app with their
 * public URLs (what `ferry deploy` prints).
 *
 * @example
 * ```ts
 * // → { endpoints: [{ function: "hello", kind: "endpoint", method: "GET", auth: "none", url: "http://127.0.0.1:8787/default/demo/hello/hello" }] }
 * ```
 */
export const endpointListRoutes = (deps: EdgeDeps) => new Hono<EdgeEnv>().get("/", (c) => {
  const appName = c.req.query("app");
  if (!appName) return errorResponse(c, new ValidationError({ field: "app", message: "app: expected the app's name (?app=NAME)" }));
  const ws = c.get("workspaceId");
  return runApi(c, Effect.gen(function*() {
    const app = yield* deps.storage.getApp(ws, appName, c.req.query("environment"));
    const fns = yield* deps.storage.listFunctions(app.id);
    const rs = yield* Effect.tryPromise({
      try: () => deps.storage.client.execute({ sql: "SELECT name FROM workspaces WHERE id = ?", args: [ws] }),
      catch: (cause) => new StorageError({ operation: "workspaceName", cause }),
    });
    const wsName = String(rs.rows[0]?.name ?? "");
    const origin = new URL(c.req.url).origin;
    return fns.filter((f) => f.options.endpoint && !f.removed).map((f) => {
      const e = resolveEndpoint(f.options.endpoint!);
      const base = `${origin}/${encodeURIComponent(wsName)}/${encodeURIComponent(app.name)}/${encodeURIComponent(f.name)}`;
      return { function: f.name, kind: e.kind, ...(e.kind === "endpoint" ? { method: e.method } : {}), auth: e.auth, url: `${base}${e.kind === "endpoint" ? e.path : "/"}` };
    });
  }), (endpoints) => c.json({ endpoints }));
});
