import { createHash } from "node:crypto";
import { Hono, type Context } from "hono";
import { stream } from "hono/streaming";
import { Schema } from "effect";
import {
  decodeAt, errorBody, ExecRequest, FunctionOptions, Limits, NotFoundError, PayloadTooLargeError, ResolvedSandboxOptions, statusOf,
  StdinChunk, ValidationError, type ApiError, type Bus, type SandboxStore,
} from "@ferry/core";
import type { Fleet } from "../agents/fleet.ts";
import { listContainers } from "./container-listing.ts";
import { containerLogLines } from "./container-logs.ts";
import { execEventsAsNdjson, type ExecTarget } from "./exec-stream.ts";
import { runEffect } from "./run-effect.ts";
import type { SandboxService } from "./sandbox-service.ts";
import { sendStdin } from "./stdin-relay.ts";

const CreateSandboxBody = Schema.Struct({
  sandboxId: Schema.String,
  workspaceId: Schema.String,
  appId: Schema.String,
  appName: Schema.String,
  functionName: Schema.String,
  bundleHash: Schema.String,
  functionOptions: FunctionOptions,
  snapshotHash: Schema.String,
  options: ResolvedSandboxOptions,
});
const Owned = Schema.Struct({ workspaceId: Schema.String });
const ExecBody = Schema.Struct({ workspaceId: Schema.String, ...ExecRequest.fields });
const StdinBody = Schema.Struct({ workspaceId: Schema.String, ...StdinChunk.fields });

const API_ERROR_TAGS = new Set(["ValidationError", "NotFoundError", "UnauthorizedError", "PayloadTooLargeError", "ConflictError", "StorageError", "BusError", "UnavailableError"]);
const isApiError = (e: unknown): e is ApiError => typeof e === "object" && e !== null && API_ERROR_TAGS.has((e as { _tag?: string })._tag ?? "");

/** Answer with the route's value, or with the API error it failed with (other failures are bugs: 500). */
const answer = async (c: Context, f: () => Promise<Response>): Promise<Response> => {
  try {
    return await f();
  } catch (e) {
    if (isApiError(e)) return c.json(errorBody(e), statusOf(e));
    throw e;
  }
};

const body = async <S extends Schema.Top>(c: Context, schema: S): Promise<S["Type"]> => {
  const json = await c.req.json().catch(() => undefined);
  if (json === undefined) throw new ValidationError({ field: "body", message: "body is not valid JSON" });
  const decoded = decodeAt(schema, json, "body");
  if (decoded._tag === "Failure") throw decoded.failure;
  return decoded.success;
};

export interface InternalSandboxRouteDeps {
  readonly sandboxes: SandboxService;
  readonly fleet: Fleet;
  readonly store: SandboxStore["Service"];
  readonly bus: Bus["Service"];
}

/**
 * The region's internal API for sandboxes and live containers (mounted under `/internal`, behind
 * the internal token): create, terminate and snapshot sandboxes; snapshot blobs for agents;
 * list, exec into and read the logs of a workspace's containers. Exec output is NDJSON of
 * `ExecEvent`s; logs are NDJSON of log lines.
 */
export const internalSandboxRoutes = (deps: InternalSandboxRouteDeps) => {
  const { sandboxes, fleet, store } = deps;

  /** Where an exec on `id` (a sandbox id, or any live container's id) runs, if the workspace owns it. */
  const execTarget = (id: string, workspaceId: string): ExecTarget => {
    const sandboxId = sandboxes.liveSandbox(id) ? id : sandboxes.sandboxOfContainer(id);
    if (sandboxId) {
      sandboxes.ownLive(sandboxId, workspaceId);
      return sandboxes.execTarget(sandboxId);
    }
    const c = fleet.containers.get(id);
    const agent = c && fleet.agents.get(c.agentId);
    if (!c || !agent || c.workspaceId !== workspaceId) throw new NotFoundError({ kind: "container", id });
    return { containerId: c.containerId, agent, targetId: c.containerId, workspaceId };
  };

  return new Hono()
    .post("/sandboxes", (c) => answer(c, async () => {
      const req = await body(c, CreateSandboxBody);
      return c.json(await sandboxes.create(req), 201);
    }))
    .post("/sandboxes/:id/terminate", (c) => answer(c, async () => {
      await sandboxes.terminate(c.req.param("id"), "terminated");
      return c.json(await runEffect(store.get(c.req.param("id"))));
    }))
    .post("/sandboxes/:id/snapshot", (c) => answer(c, async () => {
      const { workspaceId } = await body(c, Owned);
      sandboxes.ownLive(c.req.param("id"), workspaceId);
      return c.json(await sandboxes.snapshot(c.req.param("id")), 201);
    }))
    // Agents upload the snapshots they take and fetch those sandboxes start from.
    .put("/snapshots/:hash", (c) => answer(c, async () => {
      const hash = c.req.param("hash");
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.byteLength > Limits.maxSnapshotBytes) {
        throw new PayloadTooLargeError({ limit: "maxSnapshotBytes", maxBytes: Limits.maxSnapshotBytes, message: `the snapshot is ${bytes.byteLength} bytes; the limit (maxSnapshotBytes) is ${Limits.maxSnapshotBytes}` });
      }
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== hash) throw new ValidationError({ field: "path.hash", message: `path.hash: the body's sha256 is ${actual}, not ${hash}` });
      await runEffect(store.putSnapshotBlob(hash, bytes));
      return c.json({ hash, size: bytes.byteLength }, 201);
    }))
    .get("/snapshots/:hash", (c) => answer(c, async () => {
      const bytes = await runEffect(store.getSnapshotBlob(c.req.param("hash")));
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/x-tar" });
    }))
    .get("/containers", (c) => {
      const workspaceId = c.req.query("workspaceId") ?? "";
      const containers = listContainers(fleet.containers.values(), (containerId) => {
        const sandboxId = sandboxes.sandboxOfContainer(containerId);
        const s = sandboxId === undefined ? undefined : sandboxes.liveSandbox(sandboxId);
        return sandboxId && s ? { sandboxId, functionName: s.functionName, idleSince: s.idleSince } : undefined;
      }, workspaceId);
      return c.json({ containers });
    })
    .post("/containers/:id/exec", (c) => answer(c, async () => {
      const req = await body(c, ExecBody);
      const target = execTarget(c.req.param("id"), req.workspaceId);
      const events = await sandboxes.execs.start(target, req, c.req.raw.signal);
      return new Response(execEventsAsNdjson(events), { headers: { "content-type": "application/x-ndjson" } });
    }))
    .post("/execs/:execId/stdin", (c) => answer(c, async () => {
      const req = await body(c, StdinBody);
      const bytes = req.data ? Buffer.from(req.data, "base64") : new Uint8Array();
      if (bytes.byteLength > Limits.maxStdinChunkBytes) {
        throw new PayloadTooLargeError({ limit: "maxStdinChunkBytes", maxBytes: Limits.maxStdinChunkBytes, message: `a stdin chunk is ${bytes.byteLength} bytes; the limit (maxStdinChunkBytes) is ${Limits.maxStdinChunkBytes}` });
      }
      if (bytes.byteLength > 0) await sendStdin(deps.bus.nc, sandboxes.execs, c.req.param("execId"), req.workspaceId, bytes);
      if (req.eof) await sendStdin(deps.bus.nc, sandboxes.execs, c.req.param("execId"), req.workspaceId, "eof");
      return c.json({ ok: true });
    }))
    // NDJSON log lines of one container (or sandbox): every kept line; `follow=1` until it is gone.
    .get("/containers/:id/logs", (c) => answer(c, async () => {
      const id = c.req.param("id");
      const workspaceId = c.req.query("workspaceId") ?? "";
      const apps = (c.req.query("apps") ?? "").split(",").filter(Boolean);
      let containerId = id;
      let appIds = apps;
      let live = false;
      if (id.startsWith("sb-")) {
        const row = await runEffect(store.get(id)).catch(() => undefined);
        if (!row || row.workspaceId !== workspaceId) throw new NotFoundError({ kind: "container", id });
        containerId = row.containerId;
        appIds = [row.appId];
        live = sandboxes.liveSandbox(id) !== undefined;
      } else {
        const tracked = fleet.containers.get(id);
        if (tracked && tracked.workspaceId !== workspaceId) throw new NotFoundError({ kind: "container", id });
        if (tracked) appIds = [tracked.appId];
        live = tracked !== undefined;
      }
      const follow = c.req.query("follow") === "1" && live;
      let listener: ((g: { containerId: string }) => void) | undefined;
      const gone = new Promise<void>((resolve) => {
        listener = (g) => g.containerId === containerId && resolve();
        if (follow) fleet.containerGoneListeners.push(listener);
      });
      const release = () => {
        const at = listener ? fleet.containerGoneListeners.indexOf(listener) : -1;
        if (at >= 0) fleet.containerGoneListeners.splice(at, 1);
      };
      c.header("content-type", "application/x-ndjson");
      return stream(c, async (s) => {
        try {
          for (const appId of appIds) {
            for await (const line of containerLogLines(deps.bus.js, { appId, containerId, follow, gone, signal: c.req.raw.signal })) {
              await s.write(`${line}\n`);
            }
          }
        } finally {
          release();
        }
      });
    }));
};
