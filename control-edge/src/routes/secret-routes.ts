import { Hono, type Context } from "hono";
import { Effect } from "effect";
import { DEFAULT_ENVIRONMENT, Limits, NotFoundError, type ApiError } from "@ferry/core";
import type { EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";

/** The query parameter that tells a region whose objects a forwarded request concerns. */
const WORKSPACE_PARAM = "workspace";

/**
 * Forward a request about the caller's secrets or volumes to a live region, which holds the
 * platform key and the volume data plane; the workspace the bearer token resolved to rides
 * along (never one the caller names).
 */
export const forwardToRegion = (
  c: Context<EdgeEnv>, regions: RegionClient, path: string, init: RequestInit = {}, query: Record<string, string | undefined> = {},
): Effect.Effect<Response, ApiError> => Effect.gen(function*() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, v);
  q.set(WORKSPACE_PARAM, c.get("workspaceId"));
  const region = yield* regions.pick([]);
  return yield* regions.request(region, `${path}?${q}`, { ...init, signal: c.req.raw.signal });
});

/** Pass a region's JSON answer (or error body) through unchanged. */
export const passJson = (upstream: Response) => new Response(upstream.body, { status: upstream.status, headers: { "content-type": "application/json" } });

/** A secret or volume name from the path: the name pattern, else 404 (no such object can exist). */
export const objectName = (kind: string, name: string): Effect.Effect<string, NotFoundError> =>
  Limits.namePattern.test(name) ? Effect.succeed(name) : Effect.fail(new NotFoundError({ kind, id: name }));

/**
 * `/v1/secrets`: create (values go to a region, sealed there with the platform key), list (names,
 * variable names and times, never values), delete.
 */
export const secretRoutes = (regions: RegionClient) => new Hono<EdgeEnv>()
  .get("/", (c) => runApi(c, forwardToRegion(c, regions, "/internal/secrets"), passJson))
  .post("/", async (c) => {
    const body = await c.req.text();
    return runApi(c, forwardToRegion(c, regions, "/internal/secrets", { method: "POST", body }), passJson);
  })
  .delete("/:name", (c) => runApi(c, Effect.gen(function*() {
    const name = yield* objectName("secret", c.req.param("name"));
    return yield* forwardToRegion(c, regions, `/internal/secrets/${name}`, { method: "DELETE" });
  }), passJson));

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Before a deploy (`POST /v1/apps`): the secrets and volumes its functions name are checked and
 * resolved by a region: unknown names are a 400 naming the field, `Secret.fromObject` values are
 * sealed there as app-scoped secrets, `createIfMissing` volumes are created. Returns the deploy
 * body with names only (so the manifest stored with the app never carries a value), or the error
 * response. Deploys that name neither come back untouched.
 */
export const resolveDeployObjects = async (c: Context<EdgeEnv>, regions: RegionClient, body: unknown): Promise<unknown> => {
  // A body the schema will refuse is left for the deploy route to report.
  if (!isRecord(body) || !Array.isArray(body.functions) || typeof body.name !== "string" || typeof body.mode !== "string") return body;
  const functions = body.functions as unknown[];
  const wanted = functions.flatMap((f, index) => {
    if (!isRecord(f) || !isRecord(f.options)) return [];
    const { secrets, volumes } = f.options;
    const named = (Array.isArray(secrets) && secrets.length > 0) || (isRecord(volumes) && Object.keys(volumes).length > 0);
    return named ? [{ index, name: String(f.name), ...(Array.isArray(secrets) ? { secrets } : {}), ...(isRecord(volumes) ? { volumes } : {}) }] : [];
  });
  if (wanted.length === 0) return body;
  const environment = typeof body.environment === "string" ? body.environment : DEFAULT_ENVIRONMENT;
  const request = JSON.stringify({ app: body.name, mode: body.mode, environment, functions: wanted });
  const r = await Effect.runPromise(Effect.result(forwardToRegion(c, regions, "/internal/deploy-objects", { method: "POST", body: request })));
  if (r._tag === "Failure") return errorResponse(c, r.failure);
  if (!r.success.ok) return passJson(r.success);
  const resolved = (await r.success.json()) as { functions: Array<{ index: number; secrets?: string[]; volumes?: Record<string, string> }> };
  for (const f of resolved.functions) {
    const options = (functions[f.index] as { options: Record<string, unknown> }).options;
    if (f.secrets) options.secrets = f.secrets;
    if (f.volumes) options.volumes = f.volumes;
  }
  return body;
};
