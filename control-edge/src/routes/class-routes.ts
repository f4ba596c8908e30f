import { Hono } from "hono";
import { Effect, Schema } from "effect";
import {
  sha256Hex, canonicalClassParams, classVariantName, ConflictError, decodeAt, isClassOptions, Limits, newId, NotFoundError, PayloadTooLargeError,
  StorageError, ValidationError, variantOf, type ApiError, type FunctionRow,
} from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";

const CreateInstance = Schema.Struct({
  /** The instance's parameters, encoded with the value codec: a plain object of structured values. */
  params: Schema.Unknown,
});


/**
 * `/v1/classes/:id/instances`: a parametrised instance of a deployed class (`Model.with({…})`).
 * Each distinct parameter set (by the hash of its canonical encoding) is a function row of its
 * own in the class's app, created on first use, with the class's options: it has its own queue
 * and containers, which construct the class with those parameters. Asking again returns the
 * same row; a redeploy carries it over with the class's new options.
 */
export const classRoutes = (deps: EdgeDeps) => new Hono<EdgeEnv>()
  .post("/:id/instances", async (c) => {
    const body = await readJson(c);
    if (body._tag === "Failure") return errorResponse(c, new ValidationError({ field: "body", message: body.failure }));
    const decoded = decodeAt(CreateInstance, body.success, "body");
    if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
    const ws = c.get("workspaceId");
    const id = c.req.param("id");
    return runApi(c, Effect.gen(function*() {
      const cls = yield* deps.storage.getFunction(id);
      if (cls.workspaceId !== ws || cls.removed) return yield* new NotFoundError({ kind: "class", id });
      if (!isClassOptions(cls.options) || variantOf(cls.options)) {
        return yield* new ValidationError({ field: "path.id", message: `path.id: ${cls.appName}.${cls.name} is not a class (app.cls); only classes have parametrised instances` });
      }
      if (cls.appState === "stopped") return yield* new ConflictError({ message: `app ${cls.appName} is stopped; deploy it again to call ${cls.name}` });
      const size = new TextEncoder().encode(JSON.stringify(decoded.success.params) ?? "").byteLength;
      if (size > Limits.maxClassParamsBytes) {
        return yield* new PayloadTooLargeError({ limit: "maxClassParamsBytes", maxBytes: Limits.maxClassParamsBytes, message: `the instance's parameters are ${size} bytes encoded; the limit (maxClassParamsBytes) is ${Limits.maxClassParamsBytes}` });
      }
      const canonical = canonicalClassParams(decoded.success.params, "body.params");
      if (!canonical.ok) return yield* new ValidationError({ field: canonical.field, message: canonical.message });
      const hash = yield* Effect.promise(() => sha256Hex(canonical.json));
      return yield* ensureInstanceRow(deps, cls, canonical.params, hash);
    }), (row) => c.json(row, 201));
  });

/** Create the instance's function row if absent (or revive it), and return its id and name. */
const ensureInstanceRow = (deps: EdgeDeps, cls: FunctionRow, params: unknown, hash: string): Effect.Effect<{ id: string; name: string; cls: string }, ApiError> => {
  const name = classVariantName(cls.name, hash);
  const options = { ...cls.options, variant: { cls: cls.name, params, hash } };
  const client = deps.storage.client;
  return Effect.tryPromise({
    try: async () => {
      await client.execute({
        sql: `INSERT INTO functions (id, app_id, workspace_id, name, options, created_at) VALUES (?, ?, ?, ?, ?, ?)
              ON CONFLICT(app_id, name) DO UPDATE SET options = excluded.options, removed_at = NULL WHERE functions.removed_at IS NOT NULL`,
        args: [newId("fn"), cls.appId, cls.workspaceId, name, JSON.stringify(options), Date.now()],
      });
      const rs = await client.execute({ sql: "SELECT id FROM functions WHERE app_id = ? AND name = ?", args: [cls.appId, name] });
      return { id: String(rs.rows[0]?.id), name, cls: cls.name };
    },
    catch: (cause) => new StorageError({ operation: "ensureClassInstance", cause }),
  });
};
