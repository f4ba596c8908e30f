import { Hono } from "hono";
import { Effect } from "effect";
import { bytesFromBase64, ConflictError, decodeAt, sha256Hex, DEFAULT_ENVIRONMENT, DeployRequest, Limits, PayloadTooLargeError, ValidationError, variantOf, type ApiError, type FunctionRow } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";
import { checkPlacementOptions } from "./check-placement-options.ts";
import { resolveDeployObjects } from "./secret-routes.ts";
import { planRedeploy } from "./redeploy-plan.ts";
import { checkSchedules, nextRunsOf } from "./schedule-checks.ts";


/** Validate a deploy beyond its schema: unique function names, a sane bundle within its limit. */
const checkDeploy = (req: DeployRequest): Effect.Effect<Uint8Array, ApiError> => {
  const seen = new Map<string, number>();
  for (const [i, f] of req.functions.entries()) {
    if (seen.has(f.name)) return Effect.fail(new ValidationError({ field: `body.functions[${i}].name`, message: `body.functions[${i}].name: two functions are named ${f.name}` }));
    seen.set(f.name, i);
    const o = f.options;
    if (o.minContainers !== undefined && o.maxContainers !== undefined && o.minContainers > o.maxContainers) {
      return Effect.fail(new ValidationError({ field: `body.functions[${i}].options.minContainers`, message: `body.functions[${i}].options.minContainers: ${o.minContainers} is above maxContainers ${o.maxContainers}` }));
    }
    if (o.methods && o.batch) {
      return Effect.fail(new ValidationError({ field: `body.functions[${i}].options.batch`, message: `body.functions[${i}].options.batch: ${f.name} is a class; batching is for functions (app.function with batch)` }));
    }
  }
  const bytes = bytesFromBase64(req.bundle);
  if (!bytes || bytes.length === 0) return Effect.fail(new ValidationError({ field: "body.bundle", message: "body.bundle: expected the bundled app as non-empty base64" }));
  if (bytes.length > Limits.maxBundleBytes) {
    return Effect.fail(new PayloadTooLargeError({ limit: "maxBundleBytes", maxBytes: Limits.maxBundleBytes, message: `the app bundle is ${bytes.length} bytes; the limit (maxBundleBytes) is ${Limits.maxBundleBytes}` }));
  }
  return Effect.succeed(bytes);
};

/** The functions (class instances included) of the deployed app a deploy replaces; none for a new or ephemeral app. */
const previousFunctions = (deps: EdgeDeps, ws: string, req: DeployRequest): Effect.Effect<ReadonlyArray<FunctionRow>, ApiError> => req.mode !== "deployed"
  ? Effect.succeed([])
  : Effect.gen(function*() {
    const apps = yield* deps.storage.listApps(ws);
    const app = apps.find((a) => a.mode === "deployed" && a.name === req.name && a.environment === (req.environment ?? DEFAULT_ENVIRONMENT));
    return app ? yield* deps.storage.listFunctions(app.id) : [];
  });

/** `/v1/apps`: deploy, list, stop, logs. */
export const appRoutes = (deps: EdgeDeps, regions: RegionClient) => new Hono<EdgeEnv>()
  .post("/", async (c) => {
    const body = await readJson(c);
    if (body._tag === "Failure") return errorResponse(c, new ValidationError({ field: "body", message: body.failure }));
    const resolved = await resolveDeployObjects(c, regions, body.success);
    if (resolved instanceof Response) return resolved;
    const decoded = decodeAt(DeployRequest, resolved, "body");
    if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
    const ws = c.get("workspaceId");
    return runApi(c, Effect.gen(function*() {
      const wantsRegion = decoded.success.regions !== undefined || decoded.success.functions.some((f) => f.options.region !== undefined);
      const known = wantsRegion ? (yield* regions.regions()).map((r) => r.name) : [];
      const req = yield* checkPlacementOptions(decoded.success, known);
      const bytes = yield* checkDeploy(req);
      const hash = yield* Effect.promise(() => sha256Hex(bytes));
      yield* checkSchedules(req, regions);
      yield* deps.storage.putBundle(hash, bytes);
      // A redeploy keeps the containers of functions whose bundle and options are unchanged.
      const plan = planRedeploy(yield* previousFunctions(deps, ws, req), req.functions, hash);
      const deployed = yield* deps.storage.deployApp(ws, { ...req, functions: [...req.functions, ...plan.carried] }, hash);
      // Regions replace the containers of changed functions and start those of functions that
      // keep some up without work (minContainers).
      if (plan.restart.length > 0 || req.functions.some((f) => (f.options.minContainers ?? 0) > 0)) {
        for (const r of yield* regions.regions().pipe(Effect.orElseSucceed(() => []))) {
          yield* regions.request(r, `/internal/apps/${deployed.app.id}/deployed`, { method: "POST", body: JSON.stringify({ restart: plan.restart }) }).pipe(Effect.ignore);
        }
      }
      const functions = deployed.functions.filter((f) => !variantOf(f.options));
      return { app: deployed.app, functions, restarted: functions.filter((f) => plan.restart.includes(f.id)).map((f) => f.name) };
    }), ({ app, functions, restarted }) => c.json({
      app: { id: app.id, name: app.name, environment: app.environment, mode: app.mode, bundleHash: app.bundleHash },
      functions: functions.map((f) => ({ id: f.id, name: f.name })),
      restarted,
    }, 201));
  })
  .get("/", (c) => runApi(c, Effect.gen(function*() {
    const apps = yield* deps.storage.listApps(c.get("workspaceId"));
    // A class's parametrised instances are listed as the class.
    const listed = yield* Effect.forEach(apps, (app) => deps.storage.listFunctions(app.id).pipe(Effect.map((fns) => ({ app, functions: fns.filter((f) => !variantOf(f.options)) }))));
    const nextRuns = yield* nextRunsOf(listed, regions);
    return listed.map(({ app: a, functions: fns }) => ({
      id: a.id, name: a.name, environment: a.environment, mode: a.mode, state: a.state, createdAt: a.createdAt, updatedAt: a.updatedAt,
      functions: fns.map((f) => f.name),
      nextRuns: nextRuns.get(a.id) ?? [],
    }));
  }), (apps) => c.json({ apps })))
  .post("/:name/stop", (c) => runApi(c, Effect.gen(function*() {
    const app = yield* deps.storage.getApp(c.get("workspaceId"), c.req.param("name"), c.req.query("environment"));
    yield* deps.storage.stopApp(app.workspaceId, app.id);
    for (const r of yield* regions.regions()) {
      yield* regions.request(r, `/internal/apps/${app.id}/stop`, { method: "POST" }).pipe(Effect.ignore);
    }
    return { id: app.id, name: app.name, state: "stopped" };
  }), (r) => c.json(r)))
  // Server-sent events: one `data:` JSON log line per event.
  .get("/:name/logs", (c) => runApi(c, Effect.gen(function*() {
    const app = yield* deps.storage.getApp(c.get("workspaceId"), c.req.param("name"), c.req.query("environment"));
    const region = yield* regions.pick([]);
    const follow = c.req.query("follow") === "1" ? "1" : "0";
    return yield* regions.request(region, `/internal/apps/${app.id}/logs?follow=${follow}`, { signal: c.req.raw.signal });
  }), (upstream) => {
    if (!upstream.ok || !upstream.body) return errorResponse(c, new ConflictError({ message: `logs unavailable (region answered ${upstream.status})` }));
    const encoder = new TextEncoder();
    let tail = "";
    const sse = upstream.body.pipeThrough(new TextDecoderStream()).pipeThrough(new TransformStream<string, Uint8Array>({
      transform(chunk, ctl) {
        const lines = (tail + chunk).split("\n");
        tail = lines.pop() ?? "";
        for (const l of lines) if (l) ctl.enqueue(encoder.encode(`data: ${l}\n\n`));
      },
    }));
    return new Response(sse, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  }));
