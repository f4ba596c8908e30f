import { Hono, type Context } from "hono";
import { Effect, Result, type Schema } from "effect";
import {
  decodeAt, DictKeyRequest, DictPutRequest, errorBody, Limits, oversizedStoreValue, partitionProblem, QueueClearRequest, QueueGetRequest,
  QueuePutRequest, statusOf, storeNameProblem, ValidationError, type ApiError,
} from "@ferry/core";
import type { DictStore } from "./dict-store.ts";
import type { QueueStore } from "./queue-store.ts";
import { WORKSPACE_ID_PATTERN } from "./store-subjects.ts";

/** The region's Dicts and Queues. */
export interface StoreDeps {
  readonly dicts: DictStore;
  readonly queues: QueueStore;
}

const fail = (c: Context, e: ApiError) => c.json(errorBody(e), statusOf(e));

const run = async <A>(c: Context, effect: Effect.Effect<A, ApiError>, respond: (a: A) => unknown = (a) => a): Promise<Response> => {
  const r = await Effect.runPromise(Effect.result(effect));
  return Result.isSuccess(r) ? c.json(respond(r.success) as object) : fail(c, r.failure);
};

/** The path's workspace and object name, or the 400 naming the bad one. */
const target = (c: Context): Result.Result<{ ws: string; name: string }, ValidationError> => {
  const ws = c.req.param("ws") ?? "";
  const name = c.req.param("name") ?? "";
  if (!WORKSPACE_ID_PATTERN.test(ws)) return Result.fail(new ValidationError({ field: "path.workspace", message: `path.workspace: not a workspace id: ${JSON.stringify(ws)}` }));
  const bad = storeNameProblem(name, "path.name");
  return bad ? Result.fail(bad) : Result.succeed({ ws, name });
};

const body = async <S extends Schema.Top>(c: Context, schema: S): Promise<Result.Result<S["Type"], ValidationError>> => {
  const json: unknown = await c.req.json().catch(() => undefined);
  if (json === undefined) return Result.fail(new ValidationError({ field: "body", message: "body is not valid JSON" }));
  return decodeAt(schema, json, "body");
};

/** A route on one Dict or Queue: its name is checked, then `f` answers. */
const on = (f: (c: Context, ws: string, name: string) => Promise<Response>) => async (c: Context) => {
  const t = target(c);
  return Result.isFailure(t) ? fail(c, t.failure) : f(c, t.success.ws, t.success.name);
};

/** A route on one Dict or Queue with a JSON body decoded by `schema`. */
const withBody = <S extends Schema.Top>(schema: S, f: (c: Context, ws: string, name: string, req: S["Type"]) => Promise<Response>) =>
  on(async (c, ws, name) => {
    const b = await body(c, schema);
    return Result.isFailure(b) ? fail(c, b.failure) : f(c, ws, name, b.success);
  });

/**
 * The region's data plane for Dicts and Queues, mounted at `/internal/stores` behind the internal
 * token: `/:ws/dicts…` and `/:ws/queues…`, where `:ws` is the caller's workspace as the edge
 * resolved it from the bearer token. Every input is validated here too (the boundary).
 */
export const storeRoutes = (deps: StoreDeps) => new Hono()
  .get("/:ws/dicts", (c) => {
    const ws = c.req.param("ws");
    if (!WORKSPACE_ID_PATTERN.test(ws)) return fail(c, new ValidationError({ field: "path.workspace", message: "path.workspace: not a workspace id" }));
    return run(c, deps.dicts.list(ws), (dicts) => ({ dicts }));
  })
  .put("/:ws/dicts/:name", on((c, ws, name) => run(c, deps.dicts.ensure(ws, name), (r) => ({ name, ...r }))))
  .get("/:ws/dicts/:name", on((c, ws, name) => run(c, deps.dicts.info(ws, name))))
  .delete("/:ws/dicts/:name", on((c, ws, name) => run(c, deps.dicts.remove(ws, name), () => ({ name, removed: true }))))
  .post("/:ws/dicts/:name/get", withBody(DictKeyRequest, (c, ws, name, req) => run(c, deps.dicts.get(ws, name, req.key))))
  .post("/:ws/dicts/:name/has", withBody(DictKeyRequest, (c, ws, name, req) => run(c, deps.dicts.get(ws, name, req.key), (r) => ({ found: r.found }))))
  .post("/:ws/dicts/:name/delete", withBody(DictKeyRequest, (c, ws, name, req) => run(c, deps.dicts.delete(ws, name, req.key))))
  .post("/:ws/dicts/:name/put", withBody(DictPutRequest, (c, ws, name, req) => {
    const big = oversizedStoreValue(req.entries.map((e) => e.value), Limits.maxDictValueBytes, "maxDictValueBytes",
      (i) => `the value for key ${JSON.stringify(req.entries[i]!.key)}`);
    return big ? Promise.resolve(fail(c, big)) : run(c, deps.dicts.put(ws, name, req.entries, req.ttl));
  }))
  .get("/:ws/dicts/:name/keys", on((c, ws, name) => run(c, deps.dicts.keys(ws, name), (keys) => ({ keys }))))
  .post("/:ws/dicts/:name/clear", on((c, ws, name) => run(c, deps.dicts.clear(ws, name))))
  .get("/:ws/queues", (c) => {
    const ws = c.req.param("ws");
    if (!WORKSPACE_ID_PATTERN.test(ws)) return fail(c, new ValidationError({ field: "path.workspace", message: "path.workspace: not a workspace id" }));
    return run(c, deps.queues.list(ws), (queues) => ({ queues }));
  })
  .put("/:ws/queues/:name", on((c, ws, name) => run(c, deps.queues.ensure(ws, name), (r) => ({ name, ...r }))))
  .get("/:ws/queues/:name", on((c, ws, name) => run(c, deps.queues.info(ws, name))))
  .delete("/:ws/queues/:name", on((c, ws, name) => run(c, deps.queues.remove(ws, name), () => ({ name, removed: true }))))
  .post("/:ws/queues/:name/put", withBody(QueuePutRequest, (c, ws, name, req) => {
    const big = oversizedStoreValue(req.values, Limits.maxQueueItemBytes, "maxQueueItemBytes", (i) => `queue item ${i}`);
    return big ? Promise.resolve(fail(c, big)) : run(c, deps.queues.put(ws, name, req.values, req.partition));
  }))
  .post("/:ws/queues/:name/get", withBody(QueueGetRequest, (c, ws, name, req) =>
    run(c, deps.queues.get(ws, name, { n: req.n ?? 1, waitMs: (req.timeout ?? 0) * 1000, partition: req.partition, signal: c.req.raw.signal }))))
  .get("/:ws/queues/:name/len", on((c, ws, name) => {
    const partition = c.req.query("partition");
    const bad = partition === undefined ? undefined : partitionProblem(partition, "query.partition");
    if (bad) return Promise.resolve(fail(c, bad));
    return run(c, deps.queues.len(ws, name, { partition, total: c.req.query("total") === "1" }), (len) => ({ len }));
  }))
  .post("/:ws/queues/:name/clear", withBody(QueueClearRequest, (c, ws, name, req) => run(c, deps.queues.clear(ws, name, req))));
