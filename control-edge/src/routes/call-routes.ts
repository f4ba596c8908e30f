import { Hono } from "hono";
import { Effect, Schema } from "effect";
import {
  ConflictError, decodeAt, Limits, TtlCache, NotFoundError, PayloadTooLargeError, newId, resolveFunctionOptions, ValidationError,
  type ApiError, type CallRow, type FunctionRow, type RegionRow,
} from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";
import { PIN_REGION_HEADER, regionsForRequest } from "../regions/pinned-region.ts";

/** How long a function row is reused before the database is read again (stops and redeploys show within it). */
const FUNCTION_CACHE_MS = 1_000;

const Inputs = Schema.Array(Schema.Unknown).check(Schema.isMaxLength(Limits.maxInputsPerRequest, { message: `at most ${Limits.maxInputsPerRequest} inputs per request (maxInputsPerRequest); send more in batches` }));

const CreateCall = Schema.Struct({
  /** Encoded argument lists (value codec), one per input. */
  inputs: Inputs,
  /** `false` keeps the call open for more inputs (`.map` sends them in batches). Default true. */
  close: Schema.optional(Schema.Boolean),
  /** Wait up to this long for all outputs and return them with the response (`.remote`). */
  waitMs: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: Limits.maxWaitMs }))),
});

const AppendInputs = Schema.Struct({
  startIdx: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  inputs: Inputs,
  close: Schema.optional(Schema.Boolean),
});

const utf8 = new TextEncoder();

/** Each input's encoded size within `maxInputBytes`; the 413 names the input. */
const checkInputSizes = (inputs: ReadonlyArray<unknown>, startIdx: number): Effect.Effect<void, PayloadTooLargeError> => {
  for (const [i, input] of inputs.entries()) {
    const size = utf8.encode(JSON.stringify(input) ?? "").byteLength;
    if (size > Limits.maxInputBytes) {
      return Effect.fail(new PayloadTooLargeError({
        limit: "maxInputBytes", maxBytes: Limits.maxInputBytes,
        message: `input ${startIdx + i} is ${size} bytes encoded; the limit (maxInputBytes) is ${Limits.maxInputBytes}`,
      }));
    }
  }
  return Effect.void;
};

/** `/v1/functions/:id/calls`, `/v1/functions/lookup` and `/v1/calls/:id/…`. */
export const callRoutes = (deps: EdgeDeps, regions: RegionClient) => {
  // Function rows are read at most once a second per edge: a warm call then costs no database read.
  const functions = new TtlCache<string, FunctionRow>(FUNCTION_CACHE_MS);
  const getFunction = (id: string) => {
    const hit = functions.get(id);
    return hit ? Effect.succeed(hit) : deps.storage.getFunction(id).pipe(Effect.tap((fn) => Effect.sync(() => functions.set(id, fn))));
  };
  const ownFunction = (ws: string, id: string): Effect.Effect<FunctionRow, ApiError> =>
    getFunction(id).pipe(Effect.flatMap((fn): Effect.Effect<FunctionRow, ApiError> => {
      if (fn.workspaceId !== ws || fn.removed) return Effect.fail(new NotFoundError({ kind: "function", id }));
      if (fn.appState === "stopped") return Effect.fail(new ConflictError({ message: `app ${fn.appName} is stopped; deploy it again to call ${fn.name}` }));
      return Effect.succeed(fn);
    }));
  const ownCall = (ws: string, id: string): Effect.Effect<CallRow, ApiError> =>
    deps.storage.getCall(id).pipe(Effect.flatMap((call) => call.workspaceId === ws ? Effect.succeed(call) : Effect.fail(new NotFoundError({ kind: "call", id }))));

  const forwardJson = (upstream: Response) => new Response(upstream.body, { status: upstream.status, headers: { "content-type": "application/json" } });

  return new Hono<EdgeEnv>()
    .get("/functions/lookup", (c) => runApi(c,
      deps.storage.lookupFunction(c.get("workspaceId"), c.req.query("app") ?? "", c.req.query("name") ?? "", c.req.query("environment")),
      (fn) => c.json({ id: fn.id, name: fn.name, app: { id: fn.appId, name: fn.appName }, options: fn.options })))
    .post("/functions/:id/calls", async (c) => {
      const body = await readJson(c);
      if (body._tag === "Failure") return errorResponse(c, new ValidationError({ field: "body", message: body.failure }));
      const decoded = decodeAt(CreateCall, body.success, "body");
      if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
      const req = decoded.success;
      const ws = c.get("workspaceId");
      return runApi(c, Effect.gen(function*() {
        const fn = yield* ownFunction(ws, c.req.param("id"));
        yield* checkInputSizes(req.inputs, 0);
        const callId = newId("fc");
        const record = (region: RegionRow) => {
          const r = deps.storage.createCall({ id: callId, workspaceId: ws, functionId: fn.id, region: region.name, createdAt: Date.now() });
          // A `.remote` learns its call id only with the outputs, so its record may land meanwhile;
          // a spawn's id is handed out at once and must be recorded first.
          return req.waitMs === undefined ? r : Effect.sync(() => void Effect.runFork(r));
        };
        // The nearest healthy region the function allows; the next one when it does not answer.
        const allowed = yield* regionsForRequest(c.req.header(PIN_REGION_HEADER), resolveFunctionOptions(fn.options).regions, fn.appName);
        const { response } = yield* regions.requestFirst(allowed, "/internal/calls", {
          method: "POST",
          body: JSON.stringify({ callId, functionId: fn.id, startIdx: 0, inputs: req.inputs, close: req.close ?? true, waitMs: req.waitMs }),
        }, record);
        return response;
      }), forwardJson);
    })
    .post("/calls/:id/inputs", async (c) => {
      const body = await readJson(c);
      if (body._tag === "Failure") return errorResponse(c, new ValidationError({ field: "body", message: body.failure }));
      const decoded = decodeAt(AppendInputs, body.success, "body");
      if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
      const req = decoded.success;
      const ws = c.get("workspaceId");
      return runApi(c, Effect.gen(function*() {
        const call = yield* ownCall(ws, c.req.param("id"));
        yield* checkInputSizes(req.inputs, req.startIdx);
        const region = yield* regions.byName(call.region);
        return yield* regions.request(region, "/internal/calls", {
          method: "POST",
          body: JSON.stringify({ callId: call.id, functionId: call.functionId, startIdx: req.startIdx, inputs: req.inputs, close: req.close ?? false }),
        });
      }), forwardJson);
    })
    // NDJSON: `{"type":"outputs","outputs":[…]}` lines as outputs finish, then `{"type":"end",…}`.
    .get("/calls/:id/outputs", (c) => runApi(c, Effect.gen(function*() {
      const call = yield* ownCall(c.get("workspaceId"), c.req.param("id"));
      const region = yield* regions.byName(call.region);
      const waitMs = Math.max(0, Math.min(Number(c.req.query("waitMs") ?? Limits.maxWaitMs) || 0, Limits.maxWaitMs));
      return yield* regions.request(region, `/internal/calls/${call.id}/events?waitMs=${waitMs}`, { signal: c.req.raw.signal });
    }), (upstream) => new Response(upstream.body, { status: upstream.status, headers: { "content-type": "application/x-ndjson" } })))
    .post("/calls/:id/cancel", (c) => runApi(c, Effect.gen(function*() {
      const call = yield* ownCall(c.get("workspaceId"), c.req.param("id"));
      const region = yield* regions.byName(call.region);
      return yield* regions.request(region, `/internal/calls/${call.id}/cancel`, { method: "POST" });
    }), forwardJson));
};
