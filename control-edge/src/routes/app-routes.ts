import { Hono } from "hono";
import { Effect } from "effect";
import { ConflictError, decodeAt, DeployRequest, Limits, PayloadTooLargeError, ValidationError, type ApiError } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";
import { checkPlacementOptions } from "./check-placement-options.ts";

const sha256Hex = async (bytes: Uint8Array): Promise<string> => {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
};

const fromBase64 = (b64: string): Uint8Array | undefined => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) return undefined;
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

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
  }
  const bytes = fromBase64(req.bundle);
  if (!bytes || bytes.length === 0) return Effect.fail(new ValidationError({ field: "body.bundle", message: "body.bundle: expected the bundled app as non-empty base64" }));
  if (bytes.length > Limits.maxBundleBytes) {
    return Effect.fail(new PayloadTooLargeError({ limit: "maxBundleBytes", maxBytes: Limits.maxBundleBytes, message: `the app bundle is ${bytes.length} bytes; the limit (maxBundleBytes) is ${Limits.maxBundleBytes}` }));
  }
  return Effect.succeed(bytes);
};

/** `/v1/apps`: deploy, list, stop, logs. */
export const appRoutes = (deps: EdgeDeps, regions: RegionClient) => new Hono<EdgeEnv>()
  .post("/", async (c) => {
    const body = await readJson(c);
    if (body._tag === "Failure") return errorResponse(c, new ValidationError({ field: "body", message: body.failure }));
    const decoded = decodeAt(DeployRequest, body.success, "body");
    if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
    const ws = c.get("workspaceId");
    return runApi(c, Effect.gen(function*() {
      const wantsRegion = decoded.success.functions.some((f) => f.options.region !== undefined);
      const known = wantsRegion ? (yield* regions.regions()).map((r) => r.name) : [];
      const req = yield* checkPlacementOptions(decoded.success, known);
      const bytes = yield* checkDeploy(req);
      const hash = yield* Effect.promise(() => sha256Hex(bytes));
      yield* deps.storage.putBundle(hash, bytes);
      const deployed = yield* deps.storage.deployApp(ws, req, hash);
      // Regions start the containers of functions that keep some up without work (minContainers).
      if (req.functions.some((f) => (f.options.minContainers ?? 0) > 0)) {
        for (const r of yield* regions.regions().pipe(Effect.orElseSucceed(() => []))) {
          yield* regions.request(r, `/internal/apps/${deployed.app.id}/deployed`, { method: "POST" }).pipe(Effect.ignore);
        }
      }
      return deployed;
    }), ({ app, functions }) => c.json({
      app: { id: app.id, name: app.name, environment: app.environment, mode: app.mode, bundleHash: app.bundleHash },
      functions: functions.map((f) => ({ id: f.id, name: f.name })),
    }, 201));
  })
  .get("/", (c) => runApi(c, Effect.gen(function*() {
    const apps = yield* deps.storage.listApps(c.get("workspaceId"));
    return yield* Effect.forEach(apps, (a) => deps.storage.listFunctions(a.id).pipe(Effect.map((fns) => ({
      id: a.id, name: a.name, environment: a.environment, mode: a.mode, state: a.state, createdAt: a.createdAt, updatedAt: a.updatedAt,
      functions: fns.map((f) => f.name),
    }))));
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
