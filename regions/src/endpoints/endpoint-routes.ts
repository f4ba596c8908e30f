// Web endpoint requests in a region. The edge forwards each request here as a streamed POST whose
// body is one JSON head line (method, URL, headers, Content-Length) then the client's body bytes.
// The region makes it an input of the endpoint's function (its work queue, so scale-from-zero
// and placement are those of any call), then serves the container's body pulls and turns the
// response parts it sends into this HTTP response (see `EndpointExchange`).
//
// Warm requests mostly skip this: the edge asks `GET /endpoints/:functionId/routes` which agents
// run the function, and sends requests to them straight (the fast path); what those requests
// load the containers with reaches the autoscaler through the agents' heartbeats.
import { Hono } from "hono";
import { Effect, Schema } from "effect";
import {
  decodeAt, errorBody, Limits, newId, resolveFunctionOptions, statusOf, Subjects, TtlCache, base64FromBytes,
  type ApiError, type Bus, type EndpointRequestHead, type FunctionRow, type InputBatch, type Storage,
} from "@ferry/core";
import { encodeValue } from "@ferry/core/codec";
import type { Autoscaler } from "../autoscaler/autoscaler.ts";
import type { Fleet } from "../agents/fleet.ts";
import { fastRoutesOf } from "./fast-routes.ts";
import { BodySource } from "./body-source.ts";
import { EndpointExchange, errorAnswer } from "./endpoint-exchange.ts";
import { readHeadLine } from "./head-line.ts";

/** Function rows are re-read at most this often (a redeploy shows within it). */
const FUNCTION_CACHE_MS = 1_000;

/** The head line the edge sends before the body. */
export const EdgeRequestHead = Schema.Struct({
  method: Schema.String,
  url: Schema.String,
  headers: Schema.Array(Schema.Tuple([Schema.String, Schema.String])),
  /** The client's Content-Length, when it sent one. */
  contentLength: Schema.optional(Schema.Number),
});
export type EdgeRequestHead = typeof EdgeRequestHead.Type;

export interface EndpointRouteDeps {
  readonly storage: Storage["Service"];
  readonly bus: Bus["Service"];
  readonly autoscaler: Autoscaler;
  readonly fleet: Fleet;
}

const fail = (e: ApiError) => new Response(JSON.stringify(errorBody(e)), { status: statusOf(e), headers: { "content-type": "application/json" } });

/**
 * `POST /endpoints/:functionId/requests` (mounted under `/internal`): serve one web endpoint request.
 * `GET /endpoints/:functionId/routes`: the agents warm requests may go to straight (`FastRoute`s).
 *
 * @example
 * ```ts
 * api.route("/internal", endpointRoutes({ storage, bus, autoscaler, fleet }));
 * ```
 */
export const endpointRoutes = (deps: EndpointRouteDeps) => {
  const functions = new TtlCache<string, FunctionRow>(FUNCTION_CACHE_MS);
  const getFunction = (id: string): Effect.Effect<FunctionRow, ApiError> => {
    const hit = functions.get(id);
    return hit ? Effect.succeed(hit) : deps.storage.getFunction(id).pipe(Effect.tap((fn) => Effect.sync(() => functions.set(id, fn))));
  };
  // Requests served on the fast path are arrivals and load, as queued ones are: the function stays watched and scales.
  deps.fleet.fastServedListeners.push((functionId, served) => {
    void Effect.runPromise(Effect.result(getFunction(functionId))).then((r) => {
      if (r._tag === "Success") deps.autoscaler.markBusy(r.success, served);
    });
  });

  return new Hono().get("/endpoints/:functionId/routes", async (c) => {
    const found = await Effect.runPromise(Effect.result(getFunction(c.req.param("functionId"))));
    if (found._tag === "Failure") return fail(found.failure);
    return c.json({ routes: fastRoutesOf(deps.fleet, found.success.id, resolveFunctionOptions(found.success.options).maxInputs) });
  }).post("/endpoints/:functionId/requests", async (c) => {
    const found = await Effect.runPromise(Effect.result(getFunction(c.req.param("functionId")).pipe(Effect.tap((fn) => deps.bus.ensureFunctionQueue(fn.id)))));
    if (found._tag === "Failure") return fail(found.failure);
    const fn = found.success;
    if (!c.req.raw.body) return errorAnswer(400, "ValidationError", "expected the request head line and body");
    let split: Awaited<ReturnType<typeof readHeadLine>>;
    let edgeHead: EdgeRequestHead;
    try {
      split = await readHeadLine(c.req.raw.body);
      const decoded = decodeAt(EdgeRequestHead, JSON.parse(split.line), "head");
      if (decoded._tag === "Failure") return fail(decoded.failure);
      edgeHead = decoded.success;
    } catch (e) {
      return errorAnswer(400, "ValidationError", `bad request head: ${(e as Error).message}`);
    }
    const requestId = newId("er");
    const source = new BodySource(split.reader, split.leftover);
    const noBody = edgeHead.method === "GET" || edgeHead.method === "HEAD" || edgeHead.contentLength === 0;
    let body: EndpointRequestHead["body"] = { kind: "stream" };
    if (noBody) body = { kind: "none" };
    else if (edgeHead.contentLength !== undefined && edgeHead.contentLength <= Limits.endpointInlineBodyBytes) {
      // A small body announced by its length travels with the request: no round trip per piece.
      const all = await source.readAll();
      if (!(all instanceof Uint8Array)) return errorAnswer(400, "ValidationError", "error" in all ? all.message : "bad body");
      body = { kind: "inline", base64: base64FromBytes(all) };
    }
    const head: EndpointRequestHead = { ferryEndpoint: 1, requestId, method: edgeHead.method, url: edgeHead.url, headers: edgeHead.headers, body };
    const timeoutS = resolveFunctionOptions(fn.options).timeoutS;
    const exchange = new EndpointExchange(deps.bus.nc, requestId, body.kind === "stream" ? source : undefined, {
      timeoutS, headDeadlineMs: timeoutS * 1000 + Limits.endpointStartTimeoutMs, signal: c.req.raw.signal,
    });
    exchange.start();
    const batch: InputBatch = { callId: requestId, functionId: fn.id, appId: fn.appId, inputs: [{ idx: 0, args: encodeValue([head], "args"), attempt: 0 }] };
    await deps.bus.js.publish(Subjects.input(fn.id), JSON.stringify(batch));
    // As for any call: a function with containers up is served by them; a cold one is placed now.
    if (deps.autoscaler.hasLiveContainers(fn.id)) deps.autoscaler.markBusy(fn, 1);
    else await deps.autoscaler.touch(fn, 1);
    const unplaceable = deps.autoscaler.unplaceableReason(fn.id);
    if (unplaceable && !unplaceable.startsWith("no agent is connected")) {
      exchange.fail(errorAnswer(503, "UnavailableError", `cannot run ${fn.appName}.${fn.name}: ${unplaceable}`));
    }
    return exchange.response;
  });
};
