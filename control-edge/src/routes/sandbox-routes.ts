import { Hono } from "hono";
import { Effect } from "effect";
import {
  CreateSandboxRequest, ExecRequest, newId, NotFoundError, resolveSandboxOptions, SandboxStore, StdinChunk, UnavailableError,
  validateClouds, validateGpuRequests, ValidationError, type ApiError, type FunctionRow, type SandboxRow, type SnapshotRow,
} from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";
import { checkStdinChunk, decodeBody, forwardJson, forwardStream, sandboxEnded } from "./container-routes.ts";

/** A sandbox as the API shows it. */
export const publicSandbox = (row: SandboxRow) => ({
  id: row.id,
  app: { id: row.appId, name: row.appName },
  function: row.functionName || null,
  region: row.region,
  state: row.state,
  createdAt: row.createdAt,
  terminatedAt: row.terminatedAt,
  exitReason: row.exitReason,
  timeout: row.options.timeoutS,
  idleTimeout: row.options.idleTimeoutS || null,
  cpu: row.options.cpu,
  memory: row.options.memoryMiB,
  gpu: row.options.gpu,
  workdir: row.options.workdir,
});

/** A snapshot as the API shows it: an image new sandboxes and deployed functions can start from (`imageId`). */
export const publicSnapshot = (s: SnapshotRow) => ({
  id: s.id, kind: "snapshot", sandboxId: s.sandboxId, hash: s.hash, sizeBytes: s.sizeBytes, createdAt: s.createdAt, imageId: s.imageId || null,
});

const asList = (v: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> => (v === undefined ? [] : typeof v === "string" ? [v] : v);

/** GPU types, clouds and regions a sandbox names must exist, as at deploy; it starts from one image at most. */
const checkPlacement = (req: CreateSandboxRequest, knownRegions: ReadonlyArray<string>): Effect.Effect<CreateSandboxRequest, ValidationError> => {
  const bad = (field: string, message: string) => Effect.fail(new ValidationError({ field: `body.${field}`, message: `body.${field}: ${message}` }));
  let out = req;
  if (req.gpu !== undefined) {
    const gpu = validateGpuRequests(asList(req.gpu));
    if (!gpu.ok) return bad("gpu", gpu.message);
    out = { ...out, gpu: gpu.value };
  }
  if (req.cloud !== undefined) {
    const clouds = validateClouds(asList(req.cloud));
    if (!clouds.ok) return bad("cloud", clouds.message);
    out = { ...out, cloud: clouds.value };
  }
  // One image: a snapshot (`image`) or a built one (`imageId`, with what describes it).
  if (req.image !== undefined && req.imageId !== undefined) return bad("imageId", "give either image (a snapshot id) or imageId (a built image), not both");
  const described = (["imageEnv", "imageWorkdir", "imageRoot"] as const).find((f) => req[f] !== undefined);
  if (req.imageId === undefined && described !== undefined) return bad(described, "describes a built image: give its imageId too");
  const unknown = asList(req.region).filter((r) => !knownRegions.includes(r));
  if (unknown.length > 0) return bad("region", `no region named ${unknown.map((r) => JSON.stringify(r)).join(", ")}; regions: ${knownRegions.join(", ") || "none is up"}`);
  return Effect.succeed(out);
};

/**
 * `/v1/sandboxes`: create a sandbox (placed by its region's broker, answered once it runs), read
 * and list them, run processes in them with streaming stdio, snapshot their filesystem (and read a
 * snapshot: `GET /snapshots/:id`), and terminate them. Another workspace's sandbox or snapshot is 404.
 */
export const sandboxRoutes = (deps: EdgeDeps, regions: RegionClient) => {
  const store = SandboxStore.fromStorage(deps.storage);
  const own = (ws: string, id: string): Effect.Effect<SandboxRow, ApiError> => Effect.gen(function*() {
    const row = yield* store.get(id);
    if (row.workspaceId !== ws) return yield* new NotFoundError({ kind: "sandbox", id });
    return row;
  });
  const live = (ws: string, id: string): Effect.Effect<SandboxRow, ApiError> => own(ws, id).pipe(
    Effect.flatMap((row) => row.state === "terminated" ? Effect.fail(sandboxEnded(id, row.exitReason)) : Effect.succeed(row)));
  /** A snapshot of this workspace; another's (or none) is "image … not found". */
  const ownSnapshot = (ws: string, id: string): Effect.Effect<SnapshotRow, ApiError> => store.getSnapshot(id).pipe(
    Effect.flatMap((s) => s.workspaceId === ws ? Effect.succeed(s) : Effect.fail(new NotFoundError({ kind: "image", id }))),
    Effect.mapError((e): ApiError => e._tag === "NotFoundError" ? new NotFoundError({ kind: "image", id }) : e),
  );
  const mirrored = (ws: string, functionId: string): Effect.Effect<FunctionRow, ApiError> => deps.storage.getFunction(functionId).pipe(
    Effect.flatMap((fn) => fn.workspaceId !== ws || fn.removed ? Effect.fail(new NotFoundError({ kind: "function", id: functionId })) : Effect.succeed(fn)));

  return new Hono<EdgeEnv>()
    .post("/", (c) => decodeBody<CreateSandboxRequest>(c, CreateSandboxRequest, (decoded) => {
      const ws = c.get("workspaceId");
      return runApi(c, Effect.gen(function*() {
        const known = decoded.region !== undefined ? (yield* regions.regions()).map((r) => r.name) : [];
        const req = yield* checkPlacement(decoded, known);
        const fn = req.functionId ? yield* mirrored(ws, req.functionId) : undefined;
        const app = fn ? { id: fn.appId, name: fn.appName } : yield* store.resolveApp(ws, req.app, req.environment);
        const snapshot = req.image ? yield* ownSnapshot(ws, req.image) : undefined;
        const options = resolveSandboxOptions(req, fn?.options);
        const region = yield* regions.pick(options.regions);
        const upstream = yield* regions.request(region, "/internal/sandboxes", {
          method: "POST",
          body: JSON.stringify({
            sandboxId: newId("sb"), workspaceId: ws, appId: app.id, appName: app.name, functionName: fn?.name ?? "",
            bundleHash: fn?.bundleHash ?? "", functionOptions: fn?.options ?? {}, snapshotHash: snapshot?.hash ?? "", options,
          }),
        });
        if (!upstream.ok) return forwardJson(upstream);
        return c.json(publicSandbox((yield* Effect.promise(() => upstream.json())) as SandboxRow), 201);
      }), (r) => r);
    }))
    // A snapshot by id: what a deploy of `image: snapshot` resolves to the snapshot's image.
    .get("/snapshots/:id", (c) => runApi(c, ownSnapshot(c.get("workspaceId"), c.req.param("id")), (s) => c.json(publicSnapshot(s))))
    .get("/", (c) => runApi(c, store.list(c.get("workspaceId"), { liveOnly: c.req.query("all") !== "1" }), (rows) => c.json({ sandboxes: rows.map(publicSandbox) })))
    .get("/:id", (c) => runApi(c, own(c.get("workspaceId"), c.req.param("id")), (row) => c.json(publicSandbox(row))))
    // NDJSON of exec events: `started` (with the exec id for stdin), `stdout`/`stderr`, `exit`.
    .post("/:id/exec", (c) => decodeBody<ExecRequest>(c, ExecRequest, (req) => {
      const ws = c.get("workspaceId");
      return runApi(c, Effect.gen(function*() {
        const row = yield* live(ws, c.req.param("id"));
        const region = yield* regions.byName(row.region);
        return yield* regions.request(region, `/internal/containers/${row.id}/exec`, { method: "POST", body: JSON.stringify({ workspaceId: ws, ...req }), signal: c.req.raw.signal });
      }), forwardStream);
    }))
    .post("/:id/execs/:execId/stdin", (c) => decodeBody<StdinChunk>(c, StdinChunk, (chunk) => {
      const ws = c.get("workspaceId");
      return runApi(c, Effect.gen(function*() {
        yield* checkStdinChunk(chunk);
        const row = yield* own(ws, c.req.param("id"));
        const region = yield* regions.byName(row.region);
        return yield* regions.request(region, `/internal/execs/${encodeURIComponent(c.req.param("execId"))}/stdin`, { method: "POST", body: JSON.stringify({ workspaceId: ws, ...chunk }) });
      }), forwardJson);
    }))
    .post("/:id/terminate", (c) => runApi(c, Effect.gen(function*() {
      const row = yield* own(c.get("workspaceId"), c.req.param("id"));
      if (row.state === "terminated") return row;
      const region = yield* regions.byName(row.region).pipe(Effect.catch(() => Effect.succeed(undefined)));
      // Its region is gone, and the sandbox with it.
      if (!region) {
        yield* store.markTerminated(row.id, "terminated (its region was gone)", Date.now());
        return yield* store.get(row.id);
      }
      const upstream = yield* regions.request(region, `/internal/sandboxes/${row.id}/terminate`, { method: "POST" });
      if (!upstream.ok) return yield* Effect.fail(new UnavailableError({ message: `region ${region.name} could not terminate sandbox ${row.id}: HTTP ${upstream.status}` }));
      return (yield* Effect.promise(() => upstream.json())) as SandboxRow;
    }), (row) => c.json(publicSandbox(row))))
    .post("/:id/snapshot", (c) => runApi(c, Effect.gen(function*() {
      const ws = c.get("workspaceId");
      const row = yield* live(ws, c.req.param("id"));
      const region = yield* regions.byName(row.region);
      const upstream = yield* regions.request(region, `/internal/sandboxes/${row.id}/snapshot`, { method: "POST", body: JSON.stringify({ workspaceId: ws }) });
      if (!upstream.ok) return forwardJson(upstream);
      return c.json(publicSnapshot((yield* Effect.promise(() => upstream.json())) as SnapshotRow), 201);
    }), (r) => r));
};
