import { Hono, type Context } from "hono";
import { Effect } from "effect";
import {
  ConflictError, decodeAt, ExecRequest, Limits, NotFoundError, PayloadTooLargeError, SandboxStore, StdinChunk, UnavailableError, ValidationError,
  type ApiError, type RegionRow,
} from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";

const NDJSON = { "content-type": "application/x-ndjson" };

/** A region's answer passed on: a stream as NDJSON when it succeeded, its error body otherwise. */
export const forwardStream = (upstream: Response): Response =>
  new Response(upstream.body, { status: upstream.status, headers: upstream.ok ? NDJSON : { "content-type": "application/json" } });

/** A region's JSON answer passed on as it is. */
export const forwardJson = (upstream: Response): Response =>
  new Response(upstream.body, { status: upstream.status, headers: { "content-type": "application/json" } });

/** Decode a JSON body with `schema`, or answer 400 naming the field. */
export const decodeBody = async <A>(c: Context, schema: Parameters<typeof decodeAt>[0], then: (value: A) => Promise<Response>): Promise<Response> => {
  const body = await readJson(c);
  if (body._tag === "Failure") return errorResponse(c, new ValidationError({ field: "body", message: body.failure }));
  const decoded = decodeAt(schema, body.success, "body");
  if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
  return then(decoded.success as A);
};

/** A stdin chunk within `maxStdinChunkBytes` (413 above). */
export const checkStdinChunk = (chunk: StdinChunk): Effect.Effect<StdinChunk, ApiError> => {
  const bytes = chunk.data ? Math.floor((chunk.data.length * 3) / 4) - (chunk.data.endsWith("==") ? 2 : chunk.data.endsWith("=") ? 1 : 0) : 0;
  return bytes > Limits.maxStdinChunkBytes
    ? Effect.fail(new PayloadTooLargeError({ limit: "maxStdinChunkBytes", maxBytes: Limits.maxStdinChunkBytes, message: `a stdin chunk is ${bytes} bytes; the limit (maxStdinChunkBytes) is ${Limits.maxStdinChunkBytes}: send it in parts` }))
    : Effect.succeed(chunk);
};

/** Ask each live region in turn until one does not answer 404 (the one holding the container). */
const firstRegionWith = (regions: RegionClient, request: (region: RegionRow) => Effect.Effect<Response, UnavailableError>, notFound: ApiError): Effect.Effect<Response, ApiError> =>
  regions.regions().pipe(Effect.flatMap((live) => Effect.gen(function*() {
    for (const region of live) {
      const res = yield* request(region);
      if (res.status !== 404) return res;
      void res.body?.cancel();
    }
    return yield* Effect.fail(notFound);
  })));

/** NDJSON log lines as server-sent events, one `data:` line per log line. */
const ndjsonToSse = (body: NonNullable<Response["body"]>): ReadableStream<Uint8Array> => {
  const encoder = new TextEncoder();
  let tail = "";
  return body.pipeThrough(new TextDecoderStream()).pipeThrough(new TransformStream<string, Uint8Array>({
    transform(chunk, ctl) {
      const lines = (tail + chunk).split("\n");
      tail = lines.pop() ?? "";
      for (const l of lines) if (l) ctl.enqueue(encoder.encode(`data: ${l}\n\n`));
    },
  }));
};

/**
 * `/v1/containers`: the workspace's live containers and sandboxes (`ferry container list`), a
 * process in one of them with streaming stdio (`ferry container exec`), and one container's log
 * lines (`ferry container logs`). An id may be a function container's (`ct-…`) or a sandbox's
 * (`sb-…`); another workspace's is 404.
 */
export const containerRoutes = (deps: EdgeDeps, regions: RegionClient) => {
  const sandboxes = SandboxStore.fromStorage(deps.storage);
  const sandboxRegion = (ws: string, id: string): Effect.Effect<RegionRow, ApiError> => Effect.gen(function*() {
    const row = yield* sandboxes.get(id);
    if (row.workspaceId !== ws) return yield* new NotFoundError({ kind: "container", id });
    return yield* regions.byName(row.region);
  });
  const post = (path: string, body: unknown, signal?: AbortSignal) => (region: RegionRow) =>
    regions.request(region, path, { method: "POST", body: JSON.stringify(body), signal });

  return new Hono<EdgeEnv>()
    .get("/", (c) => runApi(c, regions.regions().pipe(
      Effect.flatMap((live) => Effect.forEach(live, (region) => regions.request(region, `/internal/containers?workspaceId=${encodeURIComponent(c.get("workspaceId"))}`).pipe(
        Effect.flatMap((res) => Effect.promise(() => res.json() as Promise<{ containers?: Array<Record<string, unknown>> }>)),
        Effect.map((body) => (body.containers ?? []).map((x) => ({ ...x, region: region.name }))),
        Effect.orElseSucceed(() => []),
      ), { concurrency: "unbounded" })),
    ), (lists) => c.json({ containers: lists.flat() })))
    // NDJSON of exec events: `started` (with the exec id for stdin), `stdout`/`stderr`, `exit`.
    .post("/:id/exec", (c) => decodeBody<ExecRequest>(c, ExecRequest, (req) => {
      const ws = c.get("workspaceId");
      const id = c.req.param("id");
      const request = post(`/internal/containers/${encodeURIComponent(id)}/exec`, { workspaceId: ws, ...req }, c.req.raw.signal);
      return runApi(c, id.startsWith("sb-")
        ? sandboxRegion(ws, id).pipe(Effect.flatMap(request))
        : firstRegionWith(regions, request, new NotFoundError({ kind: "container", id })), forwardStream);
    }))
    .post("/:id/execs/:execId/stdin", (c) => decodeBody<StdinChunk>(c, StdinChunk, (chunk) => {
      const ws = c.get("workspaceId");
      const id = c.req.param("id");
      const execId = c.req.param("execId");
      return runApi(c, checkStdinChunk(chunk).pipe(Effect.flatMap(() => {
        const request = post(`/internal/execs/${encodeURIComponent(execId)}/stdin`, { workspaceId: ws, ...chunk });
        return id.startsWith("sb-")
          ? sandboxRegion(ws, id).pipe(Effect.flatMap(request))
          : firstRegionWith(regions, request, new NotFoundError({ kind: "exec", id: execId }));
      })), forwardJson);
    }))
    // Server-sent events: one `data:` JSON log line per event; `follow=1` until the container is gone.
    .get("/:id/logs", (c) => runApi(c, Effect.gen(function*() {
      const ws = c.get("workspaceId");
      const id = c.req.param("id");
      const apps = (yield* deps.storage.listApps(ws)).map((a) => a.id).join(",");
      const query = `workspaceId=${encodeURIComponent(ws)}&apps=${encodeURIComponent(apps)}&follow=${c.req.query("follow") === "1" ? "1" : "0"}`;
      const request = (region: RegionRow) => regions.request(region, `/internal/containers/${encodeURIComponent(id)}/logs?${query}`, { signal: c.req.raw.signal });
      if (id.startsWith("sb-")) return yield* sandboxRegion(ws, id).pipe(Effect.flatMap(request));
      return yield* firstRegionWith(regions, request, new NotFoundError({ kind: "container", id }));
    }), (upstream) => {
      if (!upstream.ok || !upstream.body) return forwardJson(upstream);
      return new Response(ndjsonToSse(upstream.body), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    }));
};

/** 409 for an operation on a sandbox that has ended, naming how it ended. */
export const sandboxEnded = (id: string, reason: string | null): ConflictError =>
  new ConflictError({ message: `sandbox ${id} has terminated (${reason ?? "stopped"}); create a new one` });
