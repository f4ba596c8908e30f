import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Limits, PayloadTooLargeError } from "@ferry/core";
import { bearerAuth } from "./auth/bearer-auth.ts";
import type { EdgeDeps, EdgeEnv } from "./edge-env.ts";
import { errorResponse } from "./http/api-error.ts";
import { openApiDocument } from "./http/openapi.ts";
import { RegionClient } from "./regions/region-client.ts";
import { regionRoutes } from "./routes/region-routes.ts";
import { appRoutes } from "./routes/app-routes.ts";
import { callRoutes } from "./routes/call-routes.ts";
import { containerRoutes } from "./routes/container-routes.ts";
import { sandboxRoutes } from "./routes/sandbox-routes.ts";
import { classRoutes } from "./routes/class-routes.ts";
import { secretRoutes } from "./routes/secret-routes.ts";
import { storeRoutes } from "./routes/store-routes.ts";
import { tokenRoutes } from "./routes/token-routes.ts";
import { usageRoutes } from "./routes/usage-routes.ts";
import { volumeRoutes } from "./routes/volume-routes.ts";
import { imageRoutes } from "./routes/image-routes.ts";
import { endpointRoutes } from "./routes/endpoint-routes.ts";
import { endpointTokenRoutes } from "./routes/endpoint-tokens.ts";
import { endpointListRoutes } from "./routes/endpoint-list.ts";

const tooLarge = (limit: "maxRequestBodyBytes" | "maxDeployBodyBytes", maxBytes: number) => bodyLimit({
  maxSize: maxBytes,
  onError: (c) => errorResponse(c, new PayloadTooLargeError({ limit, maxBytes, message: `request body over ${maxBytes} bytes (${limit})` })),
});

/**
 * The edge: Ferry's public `/v1` API as one Hono app for every runtime (Node, Bun, Deno,
 * Workers); the host supplies storage and the secret it shares with regions.
 *
 * @example
 * ```ts
 * const app = makeEdgeApp({ storage, internalToken });
 * const http = await listenHttp(app.fetch, "127.0.0.1", 8787);
 * ```
 */
export const makeEdgeApp = (deps: EdgeDeps) => {
  const regions = new RegionClient(deps.storage, deps.internalToken, deps.fetch, deps.stateSeq);
  const app = new Hono<EdgeEnv>();
  app.get("/v1/health", (c) => c.json({ ok: true }));
  app.get("/v1/openapi.json", (c) => c.json(openApiDocument));
  // Deploys carry the bundle and get the larger limit; every other body the smaller one.
  const deployLimit = tooLarge("maxDeployBodyBytes", Limits.maxDeployBodyBytes);
  const requestLimit = tooLarge("maxRequestBodyBytes", Limits.maxRequestBodyBytes);
  app.use("/v1/*", (c, next) => (c.req.path === "/v1/apps" && c.req.method === "POST" ? deployLimit : requestLimit)(c, next));
  app.use("/v1/*", bearerAuth(deps));
  app.route("/v1/tokens", tokenRoutes(deps));
  app.route("/v1/secrets", secretRoutes(regions));
  app.route("/v1/volumes", volumeRoutes(regions));
  app.route("/v1/images", imageRoutes(regions));
  app.route("/v1/apps", appRoutes(deps, regions));
  app.route("/v1/regions", regionRoutes(regions));
  app.route("/v1/classes", classRoutes(deps));
  app.route("/v1", callRoutes(deps, regions));
  app.route("/v1/sandboxes", sandboxRoutes(deps, regions));
  app.route("/v1/containers", containerRoutes(deps, regions));
  app.route("/v1", storeRoutes(regions));
  app.route("/v1", usageRoutes(deps, regions));
  app.route("/v1/endpoint-tokens", endpointTokenRoutes(deps));
  app.route("/v1/endpoints", endpointListRoutes(deps));
  // Web endpoints, `/<workspace>/<app>/<function>/…`: outside /v1 and its auth and body limit (they check their own).
  app.route("/", endpointRoutes(deps, regions));
  app.notFound((c) => c.json({ error: { type: "NotFoundError", message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((err, c) => c.json({ error: { type: "InternalError", message: err.message } }, 500));
  return app;
};
