import { Hono, type Context } from "hono";
import { Effect, Result, type Schema } from "effect";
import {
  decodeAt, DictKeyRequest, DictPutRequest, Limits, oversizedStoreValue, partitionProblem, QueueClearRequest, QueueGetRequest, QueuePutRequest,
  storeNameProblem, ValidationError, type ApiError,
} from "@ferry/core";
import type { EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";

type Kind = "dicts" | "queues";
type C = Context<EdgeEnv>;

const passJson = (upstream: Response) => new Response(upstream.body, { status: upstream.status, headers: { "content-type": "application/json" } });

/** A JSON body decoded by `schema` and checked by `check`, or the 400/413 to answer with. */
const decodeBody = async <S extends Schema.Top>(c: C, schema: S, check: (req: S["Type"]) => ApiError | undefined = () => undefined): Promise<Result.Result<S["Type"], ApiError>> => {
  const json = await readJson(c);
  if (Result.isFailure(json)) return Result.fail(new ValidationError({ field: "body", message: json.failure }));
  const decoded = decodeAt(schema, json.success, "body");
  if (Result.isFailure(decoded)) return decoded;
  const bad = check(decoded.success);
  return bad ? Result.fail(bad) : decoded;
};

const dictValuesFit = (req: DictPutRequest) => oversizedStoreValue(req.entries.map((e) => e.value), Limits.maxDictValueBytes, "maxDictValueBytes",
  (i) => `the value for key ${JSON.stringify(req.entries[i]!.key)}`);
const queueItemsFit = (req: QueuePutRequest) => oversizedStoreValue(req.values, Limits.maxQueueItemBytes, "maxQueueItemBytes", (i) => `queue item ${i}`);

/**
 * `/v1/dicts` and `/v1/queues`: the caller's Dicts and Queues. The edge checks names, bodies and
 * value sizes (so bad input costs no region trip), then forwards to the first live region's
 * `/internal/stores/<workspace>/…`, where the data lives on NATS; a Dict or Queue of another
 * workspace is another object there, so it is never reached from here.
 */
export const storeRoutes = (regions: RegionClient) => {
  const forward = (c: C, path: string, init: RequestInit = {}): Effect.Effect<Response, ApiError> => Effect.gen(function*() {
    const region = yield* regions.pick([]);
    return yield* regions.request(region, `/internal/stores/${c.get("workspaceId")}${path}`, { ...init, signal: c.req.raw.signal });
  });
  /** A route on one named object: the name is checked first. */
  const named = (kind: Kind, suffix: string, f: (c: C, path: string) => Promise<Response>) => (c: C) => {
    const name = c.req.param("name") ?? "";
    const bad = storeNameProblem(name, "path.name");
    return bad ? errorResponse(c, bad) : f(c, `/${kind}/${name}${suffix}`);
  };
  const plain = (kind: Kind, suffix: string, method: string) => named(kind, suffix, (c, path) => runApi(c, forward(c, path, { method }), passJson));
  const withBody = <S extends Schema.Top>(kind: Kind, suffix: string, schema: S, check?: (req: S["Type"]) => ApiError | undefined) =>
    named(kind, suffix, async (c, path) => {
      const req = await decodeBody(c, schema, check);
      if (Result.isFailure(req)) return errorResponse(c, req.failure);
      return runApi(c, forward(c, path, { method: "POST", body: JSON.stringify(req.success) }), passJson);
    });

  return new Hono<EdgeEnv>()
    .get("/dicts", (c) => runApi(c, forward(c, "/dicts"), passJson))
    .put("/dicts/:name", plain("dicts", "", "PUT"))
    .get("/dicts/:name", plain("dicts", "", "GET"))
    .delete("/dicts/:name", plain("dicts", "", "DELETE"))
    .post("/dicts/:name/get", withBody("dicts", "/get", DictKeyRequest))
    .post("/dicts/:name/has", withBody("dicts", "/has", DictKeyRequest))
    .post("/dicts/:name/delete", withBody("dicts", "/delete", DictKeyRequest))
    .post("/dicts/:name/put", withBody("dicts", "/put", DictPutRequest, dictValuesFit))
    .get("/dicts/:name/keys", plain("dicts", "/keys", "GET"))
    .post("/dicts/:name/clear", plain("dicts", "/clear", "POST"))
    .get("/queues", (c) => runApi(c, forward(c, "/queues"), passJson))
    .put("/queues/:name", plain("queues", "", "PUT"))
    .get("/queues/:name", plain("queues", "", "GET"))
    .delete("/queues/:name", plain("queues", "", "DELETE"))
    .post("/queues/:name/put", withBody("queues", "/put", QueuePutRequest, queueItemsFit))
    .post("/queues/:name/get", withBody("queues", "/get", QueueGetRequest))
    .post("/queues/:name/clear", withBody("queues", "/clear", QueueClearRequest))
    .get("/queues/:name/len", named("queues", "/len", (c, path) => {
      const partition = c.req.query("partition");
      const bad = partition === undefined ? undefined : partitionProblem(partition, "query.partition");
      if (bad) return Promise.resolve(errorResponse(c, bad));
      const q = new URLSearchParams();
      if (partition !== undefined) q.set("partition", partition);
      if (c.req.query("total") === "1" || c.req.query("total") === "true") q.set("total", "1");
      return runApi(c, forward(c, `${path}?${q}`), passJson);
    }));
};

/** OpenAPI paths of these routes, for `/v1/openapi.json`. */
export const storeOpenApiPaths = (() => {
  const json = (description: string) => ({ description, content: { "application/json": { schema: { type: "object" } } } });
  const errors = { "400": json("invalid name, key or body: `error.field` names it"), "404": json("no such dict or queue in the caller's workspace"), "409": json("dict or queue full"), "413": json("value over its limit") };
  const op = (summary: string) => ({ summary, responses: { "200": json(summary), ...errors } });
  return {
    "/v1/dicts": { get: op("List the workspace's dicts") },
    "/v1/dicts/{name}": { put: op("Create the dict if missing"), get: op("The dict's creation time and live key count"), delete: op("Delete the dict and its keys") },
    "/v1/dicts/{name}/get": { post: op("The value under body.key: {found, value}") },
    "/v1/dicts/{name}/has": { post: op("Whether body.key is present: {found}") },
    "/v1/dicts/{name}/put": { post: op("Write body.entries [{key, value}] with an optional ttl (s)") },
    "/v1/dicts/{name}/delete": { post: op("Remove body.key: {deleted}") },
    "/v1/dicts/{name}/keys": { get: op("The live keys: {keys}") },
    "/v1/dicts/{name}/clear": { post: op("Remove every key") },
    "/v1/queues": { get: op("List the workspace's queues") },
    "/v1/queues/{name}": { put: op("Create the queue if missing"), get: op("The queue's creation time and total length"), delete: op("Delete the queue and its items") },
    "/v1/queues/{name}/put": { post: op("Append body.values to body.partition, all or none") },
    "/v1/queues/{name}/get": { post: op("Take up to body.n items, waiting up to body.timeout s for the first: {values}") },
    "/v1/queues/{name}/len": { get: op("Items in query.partition (default partition), or all with total=1: {len}") },
    "/v1/queues/{name}/clear": { post: op("Remove the items of body.partition, or all with body.all") },
  } as const;
})();
