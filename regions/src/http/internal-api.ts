import { Hono, type Context } from "hono";
import { stream } from "hono/streaming";
import { Effect, Schema } from "effect";
import {
  decodeAt, errorBody, Limits, statusOf, Streams, Subjects, TtlCache, UnauthorizedError, UnavailableError, ValidationError,
  type ApiError, type Bus, type CallEvent, type FunctionRow, type OutputItem, type Storage,
} from "@ferry/core";
import type { Autoscaler } from "../autoscaler/autoscaler.ts";
import type { MarketOffer } from "../broker/gpu-market.ts";
import { planInputBatches, publishInputBatches } from "../calls/enqueue-inputs.ts";
import { isFinished, readCallEvents, watchNewCall } from "../calls/read-call-events.ts";
import type { internalSandboxRoutes } from "../sandboxes/internal-sandbox-routes.ts";
import type { RegionObjects } from "../secrets/region-objects.ts";
import { secretApi } from "../secrets/secret-api.ts";
import { volumeApi } from "../volumes/volume-api.ts";
import { scheduleRoutes } from "../schedules/schedule-routes.ts";
import { storeRoutes, type StoreDeps } from "../stores/store-routes.ts";
import { blockRoutes, type BlockRoutesDeps } from "../images/block-routes.ts";

/** Header carrying the secret that edge and region share; the internal API refuses calls without it. */
export const INTERNAL_TOKEN_HEADER = "x-ferry-internal-token";
/** Function rows are re-read at most this often, so a redeploy reaches new containers quickly. */
const FUNCTION_CACHE_MS = 1_000;

const SubmitInputs = Schema.Struct({
  callId: Schema.String,
  functionId: Schema.String,
  startIdx: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** Encoded argument lists (value codec), one per input. */
  inputs: Schema.Array(Schema.Unknown).check(Schema.isMaxLength(Limits.maxInputsPerRequest)),
  /** When set, the call holds `startIdx + inputs.length` inputs in all. */
  close: Schema.Boolean,
  /** Wait up to this long for the call's outputs and return them (the `.remote` fast path). */
  waitMs: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: Limits.maxWaitMs }))),
});

export interface RegionApiDeps {
  /** With replicated state: the log sequence this region's replica has applied (reported by /internal/health). */
  readonly stateSeq?: () => number;
  readonly region: string;
  readonly internalToken: string;
  readonly storage: Storage["Service"];
  readonly bus: Bus["Service"];
  readonly autoscaler: Autoscaler;
  /** The GPU capacity on offer in this region (`ferry gpu market`). */
  readonly market: () => ReadonlyArray<MarketOffer>;
  /** Sandboxes and live containers (create, exec, stdin, snapshots, list, logs): served under `/internal` when given. */
  readonly sandboxRoutes?: ReturnType<typeof internalSandboxRoutes>;
  /** Terminate the sandboxes of a stopped app. */
  readonly terminateAppSandboxes?: (appId: string) => Promise<void>;
  /** Secrets and volumes: served under `/internal/secrets`, `/internal/volumes` and `/internal/volume-ids` when given. */
  readonly objects?: RegionObjects;
  /** Stop a function's containers now (their inputs in hand finish first) so new ones start with its new code. */
  readonly restartFunction?: (functionId: string, reason: string) => void;
  /** Dicts and Queues: served under `/internal/stores` when given. */
  readonly stores?: StoreDeps;
  /** Image blocks and indexes: served under `/internal/blocks` and `/internal/images` when given. */
  readonly blocks?: BlockRoutesDeps;
}

/** The body of a deploy notice: functions whose code or options changed (or that were dropped). */
const DeployedNotice = Schema.Struct({ restart: Schema.optional(Schema.Array(Schema.String)) });

const fail = (c: Context, e: ApiError) => c.json(errorBody(e), statusOf(e));

/** Whether a function may run in `region` (its `region` option, when set, names it). */
export const allowedIn = (fn: FunctionRow, region: string): boolean => {
  const r = fn.options.region;
  return r === undefined || (typeof r === "string" ? r === region : r.includes(region));
};

/** Make sure a function's queue exists and the autoscaler watches it (for `minContainers`). */
export const warmUp = async (deps: Pick<RegionApiDeps, "bus" | "autoscaler">, fn: FunctionRow): Promise<void> => {
  await Effect.runPromise(deps.bus.ensureFunctionQueue(fn.id)).catch(() => undefined);
  await deps.autoscaler.touch(fn);
};

const outputsLine = (outputs: ReadonlyArray<OutputItem>) => `${JSON.stringify({ type: "outputs", outputs })}\n`;

/**
 * The region's internal HTTP API, called only by the edge (and agents, for bundles): submit a
 * call's inputs, stream its outputs, cancel it, serve bundles, stream an app's logs.
 */
export const makeRegionApi = (deps: RegionApiDeps) => {
  const app = new Hono();
  const functions = new TtlCache<string, FunctionRow>(FUNCTION_CACHE_MS);
  const getFunction = (id: string): Effect.Effect<FunctionRow, ApiError> => {
    const hit = functions.get(id);
    return hit ? Effect.succeed(hit) : deps.storage.getFunction(id).pipe(Effect.tap((fn) => Effect.sync(() => functions.set(id, fn))));
  };
  const publishEvent = (callId: string, event: CallEvent) => deps.bus.js.publish(Subjects.callEvents(callId), JSON.stringify(event));

  app.use("/internal/*", async (c, next) => {
    if (c.req.header(INTERNAL_TOKEN_HEADER) !== deps.internalToken) return fail(c, new UnauthorizedError({ message: "missing or wrong internal token" }));
    await next();
  });

  app.get("/internal/health", (c) => c.json({ region: deps.region, ok: true, ...(deps.stateSeq ? { stateSeq: deps.stateSeq() } : {}) }));
  if (deps.sandboxRoutes) app.route("/internal", deps.sandboxRoutes);
  if (deps.objects) app.route("/internal", secretApi(deps.objects)).route("/internal", volumeApi(deps.objects.volumes));
  app.route("/internal/schedules", scheduleRoutes());
  if (deps.stores) app.route("/internal/stores", storeRoutes(deps.stores));
  if (deps.blocks) app.route("/internal", blockRoutes(deps.blocks));
  app.get("/internal/gpu/market", (c) => c.json({ offers: deps.market() }));

  app.post("/internal/calls", async (c) => {
    const body = await c.req.json().catch(() => undefined);
    if (body === undefined) return fail(c, new ValidationError({ field: "body", message: "body is not valid JSON" }));
    const decoded = decodeAt(SubmitInputs, body, "body");
    if (decoded._tag === "Failure") return fail(c, decoded.failure);
    const req = decoded.success;
    const found = await Effect.runPromise(Effect.result(getFunction(req.functionId).pipe(Effect.tap((fn) => deps.bus.ensureFunctionQueue(fn.id)))));
    if (found._tag === "Failure") return fail(c, found.failure);
    const fn = found.success;
    const batches = planInputBatches({ callId: req.callId, functionId: fn.id, appId: fn.appId }, req.startIdx,
      req.inputs.map((value) => ({ value, json: JSON.stringify(value) })));
    // Subscribe before publishing, so the watcher sees every event of the call.
    const watch = req.waitMs === undefined ? undefined : watchNewCall(deps.bus.nc, req.callId, { waitMs: req.waitMs, signal: c.req.raw.signal });
    await Promise.all([
      publishInputBatches(deps.bus.js, fn.id, batches),
      req.close ? publishEvent(req.callId, { type: "closed", total: req.startIdx + req.inputs.length }) : undefined,
    ]);
    // A function with containers already up is served by them; only a cold one waits for placement.
    // A single input for a warm function needs no look at the queue now: the periodic tick covers it.
    const warm = deps.autoscaler.hasLiveContainers(fn.id);
    if (!warm) await deps.autoscaler.touch(fn, batches.length);
    else if (batches.length > 1) void deps.autoscaler.touch(fn, batches.length);
    else deps.autoscaler.markBusy(fn, batches.length);
    const unplaceable = deps.autoscaler.unplaceableReason(fn.id);
    if (unplaceable && !unplaceable.startsWith("no agent is connected")) {
      watch?.cancel();
      await publishEvent(req.callId, { type: "cancelled" });
      return fail(c, new UnavailableError({ message: `cannot run ${fn.appName}.${fn.name}: ${unplaceable}` }));
    }
    if (!watch) return c.json({ callId: req.callId, accepted: req.inputs.length });
    const progress = await watch.finished;
    const outputs = [...progress.outputs.values()].sort((a, b) => a.idx - b.idx);
    const done = isFinished(progress) && !progress.cancelled;
    const cancelled = progress.cancelled;
    return c.json({ callId: req.callId, outputs, done, cancelled });
  });

  // NDJSON of `{type:"outputs"}` lines (each output once), then one `{type:"end", done, cancelled}`.
  app.get("/internal/calls/:id/events", (c) => {
    const callId = c.req.param("id");
    const waitMs = Math.min(Number(c.req.query("waitMs") ?? Limits.maxWaitMs), Limits.maxWaitMs);
    c.header("content-type", "application/x-ndjson");
    return stream(c, async (s) => {
      let done = false;
      let cancelled = false;
      let total: number | undefined;
      for await (const { fresh, progress } of readCallEvents(deps.bus.js, callId, { waitMs, signal: c.req.raw.signal })) {
        if (fresh.length > 0) await s.write(outputsLine(fresh));
        done = progress.total !== undefined && progress.outputs.size >= progress.total;
        cancelled = progress.cancelled;
        total = progress.total;
      }
      await s.write(`${JSON.stringify({ type: "end", done, cancelled, total })}\n`);
    });
  });

  app.post("/internal/calls/:id/cancel", async (c) => {
    const callId = c.req.param("id");
    await publishEvent(callId, { type: "cancelled" });
    deps.bus.nc.publish(Subjects.cancel, callId);
    return c.json({ callId, cancelled: true });
  });

  app.get("/internal/bundles/:hash", async (c) => {
    const bundle = await Effect.runPromise(Effect.result(deps.storage.getBundle(c.req.param("hash"))));
    if (bundle._tag === "Failure") return fail(c, bundle.failure);
    return c.body(bundle.success as Uint8Array<ArrayBuffer>, 200, { "content-type": "text/javascript" });
  });

  // A deploy: functions whose code or options changed get fresh containers (the others keep
  // theirs); functions that keep containers up without work start them now.
  app.post("/internal/apps/:id/deployed", async (c) => {
    const notice = decodeAt(DeployedNotice, await c.req.json().catch(() => ({})), "body");
    if (notice._tag === "Failure") return fail(c, notice.failure);
    const restart = new Set(notice.success.restart ?? []);
    const rows = await Effect.runPromise(deps.storage.listFunctions(c.req.param("id")));
    // The next calls see the new rows (bundle, options) at once, not after the cache expires.
    for (const f of rows) functions.set(f.id, f);
    for (const id of restart) deps.restartFunction?.(id, "redeployed with new code or options");
    const warm = rows.filter((f) => ((f.options.minContainers ?? 0) > 0 || restart.has(f.id)) && allowedIn(f, deps.region));
    for (const f of warm) await warmUp(deps, f);
    return c.json({ warmed: warm.length, restarted: restart.size });
  });

  app.post("/internal/apps/:id/stop", async (c) => {
    const functions = await Effect.runPromise(deps.storage.listFunctions(c.req.param("id")));
    for (const f of functions) deps.autoscaler.forget(f.id);
    await deps.terminateAppSandboxes?.(c.req.param("id"));
    return c.json({ stopped: functions.length });
  });

  // NDJSON log lines of an app, from the start of retention; `follow=1` keeps streaming.
  app.get("/internal/apps/:id/logs", (c) => {
    const appId = c.req.param("id");
    const follow = c.req.query("follow") === "1";
    c.header("content-type", "application/x-ndjson");
    return stream(c, async (s) => {
      const consumer = await deps.bus.js.consumers.get(Streams.logs, { filter_subjects: Subjects.logs(appId) });
      let remaining = (await consumer.info()).num_pending;
      if (!follow && remaining === 0) return;
      const messages = await consumer.consume();
      const stop = () => messages.stop();
      c.req.raw.signal.addEventListener("abort", stop, { once: true });
      s.onAbort(stop);
      for await (const m of messages) {
        await s.write(`${m.string()}\n`);
        remaining--;
        if (!follow && remaining <= 0) break;
      }
      stop();
    });
  });

  return app;
};
